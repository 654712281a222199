"""Measure every solution notebook against the course's budgets.

    course-benchmark                   # all assignments
    course-benchmark 00-foundations    # some
    course-benchmark --no-autograde    # skip the autograde timing

For each notebook, in a fresh workspace: wall time (kernel start to last cell), the slowest
cell, the peak resident memory of the kernel's whole process tree (servers it starts
included, sampled every 50 ms), and the time nbgrader takes to autograde one submission.
Writes ``benchmarks/latest.md`` and ``benchmarks/latest.json`` and exits 1 when a budget is
exceeded. Budgets (2 cores; Binder gives ~2 GB and JupyterLab itself takes ~0.2 GB):
notebook <= 60 s, any cell <= 15 s, process tree <= 1.2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from course_tools import grading, notebooks

BUDGET_NOTEBOOK_S = 60.0
BUDGET_CELL_S = 15.0
BUDGET_RSS_MB = 1200.0


@dataclass
class Measurement:
    assignment: str
    wall_s: float
    slowest_cell_s: float
    slowest_cell: int
    peak_tree_rss_mb: float
    autograde_s: float | None
    errors: int

    def verdicts(self) -> list[str]:
        over = []
        if self.wall_s > BUDGET_NOTEBOOK_S:
            over.append(f"notebook {self.wall_s:.1f} s > {BUDGET_NOTEBOOK_S:.0f} s")
        if self.slowest_cell_s > BUDGET_CELL_S:
            over.append(f"cell {self.slowest_cell} {self.slowest_cell_s:.1f} s > {BUDGET_CELL_S:.0f} s")
        if self.peak_tree_rss_mb > BUDGET_RSS_MB:
            over.append(f"memory {self.peak_tree_rss_mb:.0f} MB > {BUDGET_RSS_MB:.0f} MB")
        if self.errors:
            over.append(f"{self.errors} cell(s) raised")
        return over


class TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and all its descendants until stopped."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop_event.is_set():
            total = 0
            try:
                for proc in [root, *root.children(recursive=True)]:
                    try:
                        total += proc.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            self.peak = max(self.peak, total)
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join(timeout=2)
        return self.peak


def measure_notebook(path: Path, work: Path) -> tuple[float, list[float], int, int]:
    """Execute a notebook cell by cell; return wall time, per-cell times, peak tree RSS, error count."""
    from nbclient import NotebookClient

    nb = notebooks.read(path)
    env = grading.isolated_env(work / "home", COURSE_WORKSPACE=str(work / "workspace"))
    client = NotebookClient(nb, timeout=600, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    cell_times, errors = [], 0
    saved = dict(os.environ)
    os.environ.update(env)
    started = time.perf_counter()
    try:
        with client.setup_kernel(env=env, cwd=str(work)):
            sampler = TreeSampler(client.km.provisioner.process.pid)
            sampler.start()
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    cell_times.append(0.0)
                    continue
                t0 = time.perf_counter()
                client.execute_cell(cell, index)
                cell_times.append(time.perf_counter() - t0)
                errors += any(o.get("output_type") == "error" for o in cell.outputs)
            peak = sampler.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return time.perf_counter() - started, cell_times, peak, errors


def measure(name: str, with_autograde: bool) -> Measurement:
    root = notebooks.course_root()
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        work = Path(tmp) / "run"
        work.mkdir()
        shutil.copy(notebooks.solution_path(name, root), work)
        wall, cells, peak, errors = measure_notebook(work / f"{name}.ipynb", work)
        autograde_s = None
        if with_autograde:
            timings: dict[str, float] = {}
            grading.autograde(root, name, {"solution": notebooks.solution_path(name, root)}, Path(tmp) / "grade", timings)
            autograde_s = timings["autograde"]
    slowest = max(range(len(cells)), key=cells.__getitem__) if cells else -1
    return Measurement(name, round(wall, 2), round(cells[slowest], 2) if cells else 0.0, slowest,
                       round(peak / 2**20, 1), None if autograde_s is None else round(autograde_s, 2), errors)


def table(results: list[Measurement]) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}. Budgets: notebook <= {BUDGET_NOTEBOOK_S:.0f} s, cell <= {BUDGET_CELL_S:.0f} s, "
        f"process tree <= {BUDGET_RSS_MB:.0f} MB.",
        "",
        "| assignment | wall time (s) | slowest cell (s) | slowest cell # | peak tree RSS (MB) | autograde, 1 submission (s) | within budgets |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        verdict = "yes" if not r.verdicts() else "NO: " + "; ".join(r.verdicts())
        autograde = "—" if r.autograde_s is None else f"{r.autograde_s:.1f}"
        lines.append(f"| {r.assignment} | {r.wall_s:.1f} | {r.slowest_cell_s:.1f} | {r.slowest_cell} | "
                     f"{r.peak_tree_rss_mb:.0f} | {autograde} | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--no-autograde", action="store_true", help="skip timing nbgrader autograde")
    parser.add_argument("--out", type=Path, default=notebooks.course_root() / "benchmarks")
    args = parser.parse_args(argv)
    names = args.assignments or notebooks.assignments()
    results = []
    for name in names:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        results.append(measure(name, not args.no_autograde))
    text = table(results)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(text)
    (args.out / "latest.json").write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    return 1 if any(r.verdicts() for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
