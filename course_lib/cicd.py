"""Continuous integration and delivery for ML code, run locally.

Three pieces a CI/CD system provides, small enough to read:

* :func:`run_pytest` runs a test suite in a fresh Python process, the way a CI
  runner does, and reads the result back from pytest's JUnit XML report;
* :func:`load_workflow` and :func:`workflow_problems` read a GitHub Actions
  workflow and check its structure (jobs, steps, the ``needs`` graph);
  :func:`job_levels` says which jobs run in parallel;
* :func:`run_pipeline` runs stages in order, each a gate: the first stage that
  fails stops the pipeline, and the report says what ran, what failed and what
  was skipped; :func:`plot_pipeline` draws it as a timeline.

Introduced in 06-cicd.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

__all__ = ["TestReport", "run_pytest", "load_workflow", "workflow_problems", "job_levels",
           "Stage", "run_pipeline", "plot_pipeline"]

_PYTEST_INI = "[pytest]\naddopts = -p no:cacheprovider\npythonpath = .\n"


@dataclass
class TestReport:
    """The outcome of one :func:`run_pytest` call.

    Attributes:
        tests: one dict per test: ``name``, ``outcome`` (passed/failed/error/skipped), ``message``.
        returncode: pytest's exit code (0 all passed, 1 some failed, 2+ could not run).
        seconds: wall time of the run.
        output: pytest's console output (for reading when something is unexpected).

    Introduced in 06-cicd.
    """

    __test__ = False  # not a pytest test class, despite the name
    tests: list[dict] = field(default_factory=list)
    returncode: int = 0
    seconds: float = 0.0
    output: str = ""

    def count(self, outcome: str) -> int:
        """How many tests had this outcome."""
        return sum(t["outcome"] == outcome for t in self.tests)

    @property
    def ok(self) -> bool:
        """True when at least one test ran and every test passed."""
        return self.returncode == 0 and bool(self.tests) and all(t["outcome"] in ("passed", "skipped") for t in self.tests)

    def table(self):
        """The tests as a DataFrame (columns name, outcome, message)."""
        import pandas as pd

        return pd.DataFrame(self.tests, columns=["name", "outcome", "message"])

    def __repr__(self) -> str:
        counts = ", ".join(f"{self.count(o)} {o}" for o in ("passed", "failed", "error", "skipped") if self.count(o))
        return f"TestReport({counts or 'no tests'}, exit code {self.returncode}, {self.seconds:.1f} s)"


def run_pytest(paths: Sequence[str | Path] | str | Path, *, cwd: str | Path, env: Mapping[str, str] | None = None,
               timeout: float = 60.0) -> TestReport:
    """Run pytest on ``paths`` in a subprocess, as a CI runner would, and parse its JUnit XML report.

    The run uses the folder ``cwd`` as pytest's root (a ``pytest.ini`` is written there
    if missing, so no outer configuration leaks in), writes no cache and no bytecode,
    and does not load installed pytest plugins.

    Args:
        paths: test files or folders, relative to ``cwd`` or absolute.
        cwd: the folder to run in (inside the workspace).
        env: extra environment variables for the tests (e.g. which model to test).
        timeout: seconds before the run is abandoned.

    Introduced in 06-cicd.
    """
    cwd = Path(cwd)
    if not cwd.is_dir():
        raise FileNotFoundError(f"No folder {cwd} to run the tests in.")
    targets = [str(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    missing = [p for p in targets if not (cwd / p).exists()]
    if not targets or missing:
        raise FileNotFoundError(f"Test paths not found under {cwd}: {missing or 'none given'}.")
    ini = cwd / "pytest.ini"
    if not ini.exists():
        ini.write_text(_PYTEST_INI)
    junit = cwd / "junit.xml"
    junit.unlink(missing_ok=True)
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    child_env.update({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
    command = [sys.executable, "-m", "pytest", "-q", "-c", str(ini), "--rootdir", str(cwd),
               f"--junitxml={junit}", *targets]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=child_env, capture_output=True, text=True, timeout=timeout)
    report = TestReport(returncode=done.returncode, seconds=time.perf_counter() - start, output=done.stdout + done.stderr)
    if junit.exists():
        report.tests = _parse_junit(junit)
    return report


def _parse_junit(path: Path) -> list[dict]:
    tests = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed"}.get(tag, tag)
                message = (node.get("message") or "").splitlines()[0][:200] if node.get("message") else ""
                break
        module = case.get("classname", "").rsplit(".", 1)[-1]
        tests.append({"name": f"{module}::{case.get('name')}", "outcome": outcome, "message": message})
    return tests


# --------------------------------------------------------------------------- workflows


def load_workflow(text: str) -> dict:
    """Parse a GitHub Actions workflow from YAML text.

    YAML 1.1 reads the bare key ``on`` as the boolean ``True``; this puts it back as ``"on"``.

    Introduced in 06-cicd.
    """
    import yaml

    try:
        workflow = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"The workflow is not valid YAML: {error}") from error
    if not isinstance(workflow, dict):
        raise ValueError(f"A workflow is a YAML mapping (name, on, jobs), got {type(workflow).__name__}.")
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def workflow_problems(workflow: Mapping[str, Any]) -> list[str]:
    """Return what is structurally wrong with a workflow (an empty list when nothing is).

    Checks: triggers under ``on``; at least one job; each job has ``runs-on`` and a
    non-empty list of steps, each step with exactly one of ``uses`` or ``run``; every
    ``needs`` names an existing job and the ``needs`` graph has no cycle.

    Introduced in 06-cicd.
    """
    problems = []
    if not workflow.get("on"):
        problems.append("no triggers: add `on:` (e.g. push and pull_request)")
    jobs = workflow.get("jobs")
    if not isinstance(jobs, Mapping) or not jobs:
        return problems + ["no jobs: add a `jobs:` mapping"]
    for name, job in jobs.items():
        if not isinstance(job, Mapping):
            problems.append(f"job {name!r} is not a mapping")
            continue
        if "runs-on" not in job:
            problems.append(f"job {name!r} has no runs-on")
        steps = job.get("steps")
        if not isinstance(steps, list) or not steps:
            problems.append(f"job {name!r} has no steps")
            continue
        for i, step in enumerate(steps):
            if not isinstance(step, Mapping) or ("uses" in step) == ("run" in step):
                problems.append(f"job {name!r}, step {i + 1}: needs exactly one of `uses` or `run`")
        for need in _needs(job):
            if need not in jobs:
                problems.append(f"job {name!r} needs {need!r}, which is not a job")
    if not problems:
        try:
            job_levels(workflow)
        except ValueError as error:
            problems.append(str(error))
    return problems


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def job_levels(workflow: Mapping[str, Any]) -> list[list[str]]:
    """Group a workflow's jobs into the waves a runner executes: each wave runs in parallel after the previous.

    Introduced in 06-cicd.
    """
    jobs = dict(workflow.get("jobs") or {})
    done: set[str] = set()
    levels = []
    while len(done) < len(jobs):
        wave = sorted(n for n, j in jobs.items() if n not in done and set(_needs(j)) <= done)
        if not wave:
            raise ValueError(f"the `needs` of jobs {sorted(set(jobs) - done)} form a cycle or name missing jobs")
        levels.append(wave)
        done |= set(wave)
    return levels


# --------------------------------------------------------------------------- deployment pipelines


@dataclass
class Stage:
    """One stage of a deployment pipeline: ``run(context)`` returns ``(ok, detail)``; ``ok=False`` stops the pipeline.

    Introduced in 06-cicd.
    """

    name: str
    run: Callable[[dict], tuple[bool, str]]


def run_pipeline(stages: Sequence[Stage], context: dict, *, after=None):
    """Run ``stages`` in order; the first failing stage (``ok`` false or an exception) skips the rest.

    Args:
        stages: the stages, in order.
        context: a dict the stages read from and write to (the candidate, its version …).
        after: the report of a previous pipeline (say, the CI part); if it did not pass,
            every stage here is skipped, as a CD job that ``needs`` a failed CI job.

    Returns:
        A DataFrame, one row per stage: ``stage``, ``status`` (passed/failed/skipped),
        ``start`` and ``seconds`` (relative to the pipeline's start), ``detail``.

    Introduced in 06-cicd.
    """
    import pandas as pd

    if not stages or not all(isinstance(s, Stage) for s in stages):
        raise ValueError("stages must be a non-empty list of Stage(name, run).")
    blocked = after is not None and not (len(after) and (after["status"] == "passed").all())
    offset = float((after["start"] + after["seconds"]).max()) if after is not None and len(after) else 0.0
    rows, origin = [], time.perf_counter() - offset
    for stage in stages:
        start = time.perf_counter() - origin
        if blocked:
            rows.append({"stage": stage.name, "status": "skipped", "start": start, "seconds": 0.0,
                         "detail": "not run: an earlier stage failed"})
            continue
        try:
            ok, detail = stage.run(context)
        except Exception as error:  # a crash is a failed gate, not a crashed pipeline
            ok, detail = False, f"{type(error).__name__}: {error}"
        rows.append({"stage": stage.name, "status": "passed" if ok else "failed", "start": start,
                     "seconds": time.perf_counter() - origin - start, "detail": str(detail)})
        blocked = not ok
    return pd.DataFrame(rows, columns=["stage", "status", "start", "seconds", "detail"])


def plot_pipeline(report, *, ax=None, title: str = "Deployment pipeline"):
    """Draw a pipeline report as a timeline: one bar per stage, coloured by status.

    Introduced in 06-cicd.
    """
    import matplotlib.pyplot as plt

    colours = {"passed": "#55a868", "failed": "#c44e52", "skipped": "#bbbbbb"}
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(report) + 1))
    end = float((report["start"] + report["seconds"]).max()) if len(report) else 1.0
    for i, row in enumerate(report.itertuples()):
        width = row.seconds if row.status != "skipped" else end * 0.02
        ax.barh(i, max(width, end * 0.004), left=row.start, color=colours.get(row.status, "grey"),
                hatch="//" if row.status == "skipped" else None, edgecolor="black", linewidth=0.5)
        ax.text(row.start + max(width, end * 0.004) + end * 0.01, i, f"{row.status} ({row.seconds:.1f} s)",
                va="center", fontsize=8)
    ax.set_yticks(range(len(report)), report["stage"])
    ax.invert_yaxis()
    ax.set_xlim(0, end * 1.25 + 0.1)
    ax.set_xlabel("seconds since the pipeline started")
    ax.set_title(title)
    return ax
