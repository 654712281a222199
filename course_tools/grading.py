"""Grading round trips used by the test suite and by instructors who change an exercise.

* :func:`autograde` — the real ``nbgrader generate_assignment`` + ``autograde`` in a scratch copy
  of the course, for any set of submissions, returning each student's score.
* :func:`validate_release` — nbgrader's ``Validator(invert=True)``: the untouched release must fail.
* :func:`check_wrong_answers` — every wrong-answer fixture of an assignment, in ONE kernel: the
  solution notebook runs once, then each fixture replaces one answer cell, the cells down to the
  last graded cell it names are re-run, the failures are recorded and the original cells are re-run
  to restore the state. One kernel instead of one full autograde per fixture.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

from course_tools import notebooks

# Errors that mean "not answered" or "the fixture is broken", not "the check caught the mistake".
_NOT_A_CHECK = {"NameError", "NotImplementedError", "SyntaxError", "IndentationError", "ImportError"}


def isolated_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a grading or execution run that writes nothing outside ``home``."""
    env = {key: value for key, value in os.environ.items() if key not in ("COURSE_WORKSPACE", "MLFLOW_TRACKING_URI")}
    home.mkdir(parents=True, exist_ok=True)
    for name in ("MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[name] = str(home / name.lower())
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONHASHSEED": "0", "MPLBACKEND": "agg"})
    env.update(extra)
    return notebooks.with_venv_on_path(env)


def _nbgrader(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def scratch_course(root: Path, where: Path, names: list[str]) -> Path:
    """Copy what nbgrader needs (config and solutions) into ``where``; return it."""
    shutil.copy(root / "nbgrader_config.py", where)
    for name in names:
        shutil.copytree(root / "solutions" / name, where / "solutions" / name,
                        ignore=shutil.ignore_patterns("workspace", ".ipynb_checkpoints", "__pycache__"))
    return where


def autograde(root: Path, assignment: str, submissions: dict[str, Path], work: Path,
              timings: dict[str, float] | None = None) -> dict[str, tuple[float, float]]:
    """Release ``assignment``, submit each notebook as a student, autograde, return {student: (score, max)}.

    ``timings``, when given, receives the seconds spent in ``generate`` and ``autograde``.
    """
    timings = {} if timings is None else timings
    work.mkdir(parents=True, exist_ok=True)
    from nbgrader.api import Gradebook

    course = scratch_course(root, work, [assignment])
    env = isolated_env(work / "home")
    started = time.perf_counter()
    _nbgrader(["generate_assignment", assignment, "--force"], course, env)
    timings["generate"] = time.perf_counter() - started
    for student, notebook in submissions.items():
        target = course / "submitted" / student / assignment
        target.mkdir(parents=True)
        shutil.copy(notebook, target / f"{assignment}.ipynb")
    started = time.perf_counter()
    _nbgrader(["autograde", assignment, "--force"], course, env)
    timings["autograde"] = time.perf_counter() - started
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return {
            student: (gradebook.find_submission(assignment, student).score,
                      gradebook.find_submission(assignment, student).max_score)
            for student in submissions
        }


def validate_release(release: Path, work: Path) -> dict:
    """Run nbgrader's Validator with ``invert=True`` on a copy of the release; ``{}`` means every test failed.

    Cells get the course's per-cell limit (``nbgrader_config.py``: 120 s), not the Validator's own 30 s, which a
    busy machine exceeds while importing the stack.
    """
    from nbgrader.validator import Validator
    from traitlets.config import Config

    config = Config()
    config.Execute.timeout = 120

    work.mkdir(parents=True, exist_ok=True)
    copy = work / release.name
    shutil.copy(release, copy)
    saved = dict(os.environ)
    os.environ.update(isolated_env(work / "home", COURSE_WORKSPACE=str(work / "workspace")))
    try:
        return Validator(invert=True, config=config).validate(str(copy))
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class FixtureResult:
    """What one wrong answer did to the graded cells it names."""

    name: str
    cell: str
    failures: dict[str, str] = field(default_factory=dict)  # grade_id -> "ename: evalue"
    problems: list[str] = field(default_factory=list)


def load_fixtures(path: Path) -> list[dict]:
    """Read a wrong-answer fixture file and check its shape."""
    fixtures = yaml.safe_load(path.read_text()) or []
    for index, item in enumerate(fixtures):
        missing = {"name", "cell", "code", "must_fail"} - set(item)
        if missing:
            raise ValueError(f"{path.name} fixture #{index + 1} lacks {sorted(missing)}")
    return fixtures


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _error(cell) -> tuple[str, str] | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return output.get("ename", ""), output.get("evalue", "")
    return None


def _stderr(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stderr")


def check_wrong_answers(solution: Path, fixtures: list[dict], work: Path, timeout: int = 120) -> tuple[list[str], list[FixtureResult]]:
    """Run the solution then every fixture in one kernel.

    Returns the solution run's own errors (``grade_id: error`` for any failing cell) and one
    :class:`FixtureResult` per fixture.
    """
    from nbclient import NotebookClient

    nb = notebooks.read(solution)
    index = {_grade_id(cell): i for i, cell in enumerate(nb.cells) if _grade_id(cell)}
    env = isolated_env(work / "home", COURSE_WORKSPACE=str(work / "workspace"))
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(work)}})
    saved = dict(os.environ)
    os.environ.update(env)
    solution_errors: list[str] = []
    results: list[FixtureResult] = []
    try:
        with client.setup_kernel(env=env, cwd=str(work)):
            for i, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, i)
                    if (err := _error(cell)) is not None:
                        solution_errors.append(f"cell {i} ({_grade_id(cell) or 'no grade_id'}): {err[0]}: {err[1]}")
                    elif cell.metadata.get("nbgrader", {}).get("grade") and _stderr(cell):
                        solution_errors.append(
                            f"cell {i} ({_grade_id(cell)}) writes to stderr, so nbgrader gives it 0 points: "
                            f"{_stderr(cell)[:300]!r}")
            if solution_errors:
                return solution_errors, results
            # nbclient stores every executed cell back into the notebook: keep the originals apart.
            originals = [copy.deepcopy(cell) for cell in nb.cells]
            for fixture in fixtures:
                result = FixtureResult(fixture["name"], fixture["cell"])
                results.append(result)
                unknown = [g for g in [fixture["cell"], *fixture["must_fail"]] if g not in index]
                if unknown:
                    result.problems.append(f"unknown grade_id(s) {unknown}")
                    continue
                start = index[fixture["cell"]]
                stop = max(index[g] for g in fixture["must_fail"])
                wrong = nbformat.v4.new_code_cell(fixture["code"])
                client.execute_cell(wrong, start)
                for i in range(start + 1, stop + 1):
                    cell = copy.deepcopy(originals[i])
                    if cell.cell_type != "code":
                        continue
                    client.execute_cell(cell, i)
                    err = _error(cell)
                    if _grade_id(cell) in fixture["must_fail"] and err is not None:
                        result.failures[_grade_id(cell)] = f"{err[0]}: {err[1]}"
                for grade_id in fixture["must_fail"]:
                    if grade_id not in result.failures:
                        result.problems.append(f"{grade_id} passed the wrong answer")
                    elif result.failures[grade_id].split(":")[0] in _NOT_A_CHECK or not result.failures[grade_id].split(":", 1)[1].strip():
                        result.problems.append(f"{grade_id} failed without a helpful check message: {result.failures[grade_id]}")
                for i in range(start, stop + 1):  # restore the solution's state for the next fixture
                    cell = copy.deepcopy(originals[i])
                    if cell.cell_type == "code":
                        client.execute_cell(cell, i)
                        if (err := _error(cell)) is not None:
                            result.problems.append(f"restoring cell {i} failed: {err[0]}: {err[1]}")
                            return solution_errors, results
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return solution_errors, results


def graded_cells(nb) -> list[str]:
    """grade_ids of the cells that carry points (nbgrader ``grade: true`` code cells)."""
    return [
        _grade_id(cell) for cell in nb.cells
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")
    ]

