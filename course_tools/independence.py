"""Does skipping one exercise cost only that exercise's points?

A learner who leaves one exercise as released (the stub that raises ``NotImplementedError``) should
lose that exercise's points and no others: the later sections still run, the later checks still
grade what the learner wrote. This tool measures it. For each answer cell of an assignment it runs
the solution notebook top to bottom in a fresh kernel and a fresh workspace, with that one cell
replaced by its released version, and lists the checks that fail. A failing check of another
exercise is *collateral*.

    python -m course_tools.independence 10-governance               # every exercise, 2 at a time
    python -m course_tools.independence 10-governance --exercise ex2-thresholds
    python -m course_tools.independence --all --json report.json    # the whole course
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from course_tools import grading, notebooks, sandbox

CHECK_SUFFIX = "-check"


@dataclass
class SkipResult:
    """What failed when one answer cell was left as released."""

    assignment: str
    skipped: str                                   # grade_id of the answer cell left blank
    failed_checks: list[str] = field(default_factory=list)
    collateral: list[str] = field(default_factory=list)   # failed checks that belong to other exercises
    errors: dict[str, str] = field(default_factory=dict)  # failed check -> its error, first line
    seconds: float = 0.0


def answer_cells(nb) -> list[str]:
    """grade_ids of the cells a learner writes (nbgrader ``solution: true``), in notebook order."""
    return [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells
            if cell.metadata.get("nbgrader", {}).get("solution") and cell.metadata["nbgrader"].get("grade_id")]


def owner(check_id: str) -> str:
    """The answer cell a check belongs to, by the course's naming (``exN-name`` and ``exN-name-check``)."""
    return check_id[: -len(CHECK_SUFFIX)] if check_id.endswith(CHECK_SUFFIX) else check_id


def skip_one(assignment: str, skipped: str, work: Path, *, root: Path | None = None, timeout: int = 120) -> SkipResult:
    """Run ``assignment``'s solution with the answer cell ``skipped`` as released; report the failing checks."""
    from nbclient import NotebookClient

    root = root or notebooks.course_root()
    solution = notebooks.read(notebooks.solution_path(assignment, root))
    release = {grading._grade_id(c): c for c in notebooks.read(notebooks.release_path(assignment, root)).cells}
    index = {grading._grade_id(c): i for i, c in enumerate(solution.cells) if grading._grade_id(c)}
    if skipped not in answer_cells(solution):
        raise ValueError(f"{skipped!r} is not an answer cell of {assignment}; answer cells: {answer_cells(solution)}")
    if skipped not in release:
        raise ValueError(f"{skipped!r} is missing from the released {assignment}: run the release command first")
    solution.cells[index[skipped]].source = release[skipped].source

    env = sandbox.clean_env(work / "home", COURSE_WORKSPACE=str(work / "workspace"))
    marker = env[sandbox.MARKER]
    client = NotebookClient(solution, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    started = time.perf_counter()
    try:
        client.execute(env=env, cwd=str(work))
    finally:
        sandbox.sweep(marker)  # servers a cell started and the clean-up cell never reached
    result = SkipResult(assignment, skipped, seconds=round(time.perf_counter() - started, 1))
    for check in grading.graded_cells(solution):
        cell = solution.cells[index[check]]
        err = grading._error(cell) or (("stderr", grading._stderr(cell)) if grading._stderr(cell) else None)
        if err is None:  # nbgrader gives 0 to a graded cell that raises or writes to stderr
            continue
        result.failed_checks.append(check)
        result.errors[check] = f"{err[0]}: {err[1].strip().splitlines()[0] if err[1].strip() else ''}"[:300]
        if owner(check) != skipped:
            result.collateral.append(check)
    return result


def run(assignment: str, exercises: list[str] | None = None, *, jobs: int = 2, timeout: int = 120,
        root: Path | None = None) -> list[SkipResult]:
    """:func:`skip_one` for each of ``exercises`` (default: every answer cell), ``jobs`` notebooks at a time.

    Each run is a separate process with its own kernel, home and workspace, so runs cannot see each other.
    """
    root = root or notebooks.course_root()
    exercises = exercises or answer_cells(notebooks.read(notebooks.solution_path(assignment, root)))

    def one(exercise: str) -> SkipResult:
        with tempfile.TemporaryDirectory(prefix=f"skip-{exercise}-") as tmp:
            out = Path(tmp) / "result.json"
            proc = subprocess.run([sys.executable, "-m", "course_tools.independence", assignment, "--exercise", exercise,
                                   "--work", tmp, "--json", str(out), "--timeout", str(timeout)], cwd=root, capture_output=True, text=True)
            if proc.returncode not in (0, 1) or not out.is_file():  # 1 = collateral found
                raise RuntimeError(f"{assignment} without {exercise}: the run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
            return SkipResult(**json.loads(out.read_text())[0])

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        return list(pool.map(one, exercises))


def report(results: list[SkipResult]) -> str:
    """One line per skipped exercise: what else it cost."""
    lines = []
    for r in results:
        extra = ", ".join(f"{c} ({r.errors[c][:80]})" for c in r.collateral) or "nothing else"
        lines.append(f"{r.assignment:26} without {r.skipped:26} {r.seconds:6.1f} s  also fails: {extra}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exits 1 when any skipped exercise costs another exercise's points."""
    parser = argparse.ArgumentParser(prog="python -m course_tools.independence", description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", nargs="*", help="assignments to measure (or --all)")
    parser.add_argument("--all", action="store_true", help="every assignment of the course")
    parser.add_argument("--exercise", action="append", help="grade_id of one answer cell to leave blank (repeatable)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at once (default 2)")
    parser.add_argument("--work", type=Path, help="with one --exercise: run in this folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
    args = parser.parse_args(argv)
    names = notebooks.assignments() if args.all else args.assignment
    if not names:
        parser.error("name at least one assignment, or --all")
    results: list[SkipResult] = []
    if args.work and args.exercise and len(args.exercise) == 1 and len(names) == 1:
        results.append(skip_one(names[0], args.exercise[0], args.work, timeout=args.timeout))
    else:
        for name in names:
            results += run(name, args.exercise, jobs=args.jobs, timeout=args.timeout)
            print(report([r for r in results if r.assignment == name]), flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 1 if any(r.collateral for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
