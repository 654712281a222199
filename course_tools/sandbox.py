"""Running untrusted submissions: a clean environment, resource limits, a kill that really kills.

Graded code runs with the grader's rights. What this module gives, without containers:

* :func:`clean_env` — an allow-list environment: no secrets, no ``MLFLOW_TRACKING_URI``, no
  ``COURSE_WORKSPACE``; caches and ``HOME`` inside the submission's scratch folder; a random marker
  variable so that every process the submission starts can be found again;
* :func:`run_limited` — a subprocess in its own session with ``setrlimit`` limits (address space,
  CPU seconds, file size, open files) inherited by the kernel and its children, a wall-clock limit
  that kills the whole process group, then a sweep that kills any process still carrying the marker
  (a child that called ``setsid`` to escape the group keeps its environment);
* :func:`scan_submission` — a static check of the cells a learner may edit, flagging code that
  rebinds the functions the checks rely on (``course_lib.feedback.check = ...``), patches modules or
  builtins, or touches the gradebook: attacks that nbgrader's OverwriteCells cannot undo, because
  they live in answer cells.

What it cannot give (same user id, same file system): a submission that searches the disk can read
any file the grader can read. docs/instructor.md says what containers or JupyterHub add.
"""

from __future__ import annotations

import ast
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil

from course_tools import notebooks
from course_tools.grading import _grade_id as grade_id

MARKER = "COURSE_GRADING_MARKER"
# Variables a grading run may inherit; everything else (tokens, cloud credentials, tracking URIs,
# the course's own COURSE_* settings) stays out.
_ALLOWED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")
# Names the check cells import from course_lib.feedback.
FEEDBACK_NAMES = ("check", "check_equal", "check_close", "check_between", "check_type", "check_columns",
                  "passed", "CheckFailed")
# Modules whose attributes a submission must not rebind (IPython: hiding tracebacks, nbgrader PR #1324).
_PROTECTED_MODULES = ("course_lib", "builtins", "sys", "importlib", "nbgrader", "numpy.testing", "unittest", "IPython")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission (``None`` = no limit)."""

    cell_timeout: int = 60          # seconds per cell, nbgrader's ExecutePreprocessor.timeout
    wall_seconds: int | None = 900  # the whole autograde of one submission
    memory_mb: int | None = 4096    # address space per process (RLIMIT_AS)
    cpu_seconds: int | None = 900   # CPU time per process (RLIMIT_CPU)
    file_mb: int | None = 512       # largest file a process may write (RLIMIT_FSIZE)


@dataclass
class RunResult:
    """What happened to one limited run."""

    returncode: int | None
    seconds: float
    timed_out: bool
    stdout: str
    stderr: str
    swept: int = 0  # processes killed after the run


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An allow-list environment for grading inside ``home``, with a fresh marker.

    Returns the environment; its ``COURSE_GRADING_MARKER`` value identifies the run's processes.
    """
    env = {key: os.environ[key] for key in _ALLOWED if key in os.environ}
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    for name in ("MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR"):
        env[name] = str(home / name.lower())
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONHASHSEED": "0",
                "MPLBACKEND": "agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "PYTHONDONTWRITEBYTECODE": "1", MARKER: secrets.token_hex(8)})
    env.update(extra)
    return notebooks.with_venv_on_path(env)


def _set_limits(limits: Limits):
    def apply() -> None:  # runs in the child, between fork and exec
        for kind, value in ((resource.RLIMIT_AS, limits.memory_mb and limits.memory_mb * 1024**2),
                            (resource.RLIMIT_CPU, limits.cpu_seconds),
                            (resource.RLIMIT_FSIZE, limits.file_mb and limits.file_mb * 1024**2)):
            if value:
                resource.setrlimit(kind, (value, value))
    return apply


def processes_with(variable: str, value: str) -> list[psutil.Process]:
    """Live processes (not this one, not zombies) whose environment sets ``variable`` to ``value``."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(variable) == value and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def describe(processes: list[psutil.Process]) -> list[str]:
    """``"pid: command line"`` for each process, for an error message."""
    return [f"{p.pid}: {' '.join(p.info.get('cmdline') or [])[:200]}" for p in processes]


def sweep(marker: str) -> int:
    """Kill every process whose environment carries ``marker``; return how many."""
    killed = 0
    for proc in processes_with(MARKER, marker):
        try:
            proc.kill()
            killed += 1
        except (psutil.Error, OSError):
            continue
    return killed


def run_limited(cmd: list[str], cwd: Path, env: dict[str, str], limits: Limits) -> RunResult:
    """Run ``cmd`` in its own session under ``limits``; kill the group on the wall-clock limit, then sweep."""
    if MARKER not in env:
        raise ValueError(f"env has no {MARKER}: build it with clean_env()")
    started = time.perf_counter()
    logs = Path(env.get("HOME", str(cwd)))
    logs.mkdir(parents=True, exist_ok=True)
    # Files, not pipes: a process that escaped the group could hold a pipe open and block the read.
    with open(logs / "run.out", "w+", errors="replace") as out, open(logs / "run.err", "w+", errors="replace") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=_set_limits(limits))
        timed_out = False
        try:
            proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
        with _suppress():  # the kernel and anything it started in the same group
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        swept = sweep(env[MARKER])
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read()[-20000:], err.read()[-20000:]
    return RunResult(proc.returncode, time.perf_counter() - started, timed_out, stdout, stderr, swept)


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], (ProcessLookupError, PermissionError))


@dataclass
class Finding:
    """One suspicious construct in a learner-editable cell."""

    cell: int
    kind: str       # "rebinds-check", "patches-module", "gradebook", "kills-kernel", "dynamic-code"
    detail: str
    tamper: bool    # True: grading would be unfair if it stood (the submission is zeroed for review)


@dataclass
class Scan:
    """The findings for one submission."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def tampered(self) -> bool:
        return any(f.tamper for f in self.findings)

    def summary(self) -> str:
        return "; ".join(f"cell {f.cell}: {f.kind} ({f.detail})" for f in self.findings)


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript):
        return f"{_dotted(node.value)}[]"
    return "?"


def _module_aliases(tree: ast.AST) -> dict[str, str]:
    """Local names bound to protected modules by imports (``import course_lib.feedback as fb``)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return {k: v for k, v in aliases.items() if v.split(".")[0] in {m.split(".")[0] for m in _PROTECTED_MODULES}}


def scan_source(source: str, cell: int, protected: set[str]) -> list[Finding]:
    """Findings for one cell's code (see :func:`scan_submission`)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # IPython magics and the like: the cell fails or runs as IPython sees it
    aliases = _module_aliases(tree)
    found: list[Finding] = []
    for node in ast.walk(tree):
        targets: list[ast.AST] = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in protected:
            found.append(Finding(cell, "rebinds-check", f"defines {node.name}()", True))
        elif isinstance(node, ast.Delete):
            targets = node.targets
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in ("setattr", "delattr") and node.args and _dotted(node.args[0]).split(".")[0] in aliases:
                found.append(Finding(cell, "patches-module", f"{name}({_dotted(node.args[0])}, ...)", True))
            elif name in ("os._exit", "os.kill", "os.killpg", "sys.exit", "os.abort", "signal.signal"):
                found.append(Finding(cell, "kills-kernel", name, False))
            elif name in ("exec", "eval", "compile", "__import__"):
                found.append(Finding(cell, "dynamic-code", f"{name}() hides code from this scan", True))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "gradebook" in node.value.lower():
            found.append(Finding(cell, "gradebook", repr(node.value[:60]), True))
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name) and leaf.id in protected and isinstance(leaf.ctx, (ast.Store, ast.Del)):
                    found.append(Finding(cell, "rebinds-check", f"assigns {leaf.id}", True))
            name = _dotted(target)
            root = name.split(".")[0].split("[")[0]
            if isinstance(target, (ast.Attribute, ast.Subscript)) and (
                    root in aliases or root in ("__builtins__", "sys") or name.startswith("sys.modules")):
                found.append(Finding(cell, "patches-module", f"assigns {name}", True))
    return found


def scan_submission(nb, source_nb) -> Scan:
    """Flag tampering in the cells of ``nb`` a learner may edit (answer cells and free cells).

    Cells the source marks locked or graded are skipped: nbgrader restores them from the gradebook. ``protected``
    names are the feedback helpers plus every name the source notebook's check cells import.
    Cells identical to a cell of the source notebook are skipped (the course's own code).
    """
    protected = set(FEEDBACK_NAMES)
    course_code = set()
    for cell in source_nb.cells:
        if cell.cell_type != "code":
            continue
        course_code.add(cell.source.strip())
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            for node in ast.walk(_parse(cell.source)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_lib"):
                    protected.update(alias.asname or alias.name for alias in node.names)
    restored = {cell.metadata["nbgrader"]["grade_id"] for cell in source_nb.cells
                if cell.metadata.get("nbgrader", {}).get("grade_id")
                and (cell.metadata["nbgrader"].get("grade") or cell.metadata["nbgrader"].get("locked"))}
    scan = Scan()
    for index, cell in enumerate(nb.cells):
        # Judge by the source's metadata, not the submission's: a learner can unlock a cell.
        if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("grade_id") in restored:
            continue
        if cell.source.strip() in course_code:
            continue
        scan.findings.extend(scan_source(cell.source, index, protected))
    return scan


def repair_submission(nb, source_nb) -> list[str]:
    """Undo metadata edits nbgrader would choke on, in place; return what was repaired.

    nbgrader 0.9.6 fails the WHOLE submission on a duplicated graded cell (``KeyError: 'grade_id'``)
    or on a test cell whose metadata was changed ("Inconsistent checksums"). Here each cell whose
    grade_id the source knows gets the source's nbgrader metadata back; a second cell with the same
    grade_id, and a cell claiming an unknown grade_id, become ordinary cells; a test cell missing from the
    submission (deleted, or renamed and so neutralised) is put back at its place, and nbgrader restores its
    code from the gradebook.
    """
    known = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"] for c in source_nb.cells
             if c.metadata.get("nbgrader", {}).get("grade_id")}
    notes = _neutralise_and_restore_metadata(nb, known)
    notes += _restore_missing_checks(nb, source_nb)
    return notes


def _neutralise_and_restore_metadata(nb, known: dict[str, dict]) -> list[str]:
    seen: set[str] = set()
    notes: list[str] = []
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        grade_id = meta.get("grade_id")
        if grade_id in seen or grade_id not in known:
            notes.append(f"cell {index}: {'second copy of' if grade_id in seen else 'unknown'} grade_id {grade_id!r} made an ordinary cell")
            del cell.metadata["nbgrader"]
            continue
        seen.add(grade_id)
        original = {k: v for k, v in known[grade_id].items() if k != "checksum"}
        current = {k: v for k, v in meta.items() if k not in ("checksum", "cell_type")}
        if current != original:
            changed = sorted(k for k in set(original) | set(current) if original.get(k) != current.get(k))
            notes.append(f"cell {index} ({grade_id}): metadata {changed} restored")
            cell.metadata["nbgrader"] = {**meta, **original}
            for key in [k for k in cell.metadata["nbgrader"] if k not in original and k not in ("checksum", "cell_type")]:
                del cell.metadata["nbgrader"][key]
    return notes


def _restore_missing_checks(nb, source_nb) -> list[str]:
    """Put every graded test cell the submission lacks back at its place: after the nearest cell before it
    (in the source) that the submission still has, and after as many ordinary cells as sit between the two
    in the source, never past the next cell the source has after it.

    The place matters: the cell after a check may replace a failing answer with a stand-in
    (``course_lib.feedback.stand_in``), and a check put back after it would grade the stand-in.
    nbgrader's own ``OverwriteCells.add_missing_cells`` looks only at the source cell just before the
    missing one and fails the whole submission (``KeyError``) when that cell is a read-only text cell, as
    in most of the course's lessons. nbgrader then replaces the restored cell's code from the gradebook.
    """
    notes: list[str] = []
    for position, cell in enumerate(source_nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        present = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
        if not meta.get("grade") or meta.get("solution") or cell.cell_type != "code" or meta["grade_id"] in present:
            continue
        plain, anchor = 0, -1
        for before in reversed(source_nb.cells[:position]):
            if grade_id(before) in present:
                anchor = present[grade_id(before)]
                break
            plain += 0 if grade_id(before) else 1
        later = [i for i in present.values() if i > anchor]
        at = min(anchor + 1 + plain, min(later) if later else len(nb.cells))
        restored = nbformat.v4.new_code_cell(notebooks.without_hidden_tests(cell.source), metadata={
            "deletable": False, "editable": False, "nbgrader": {k: v for k, v in meta.items() if k != "checksum"}})
        nb.cells.insert(at, restored)
        notes.append(f"cell {at} ({meta['grade_id']}): the deleted check was put back")
    return notes


def _parse(source: str) -> ast.AST:
    try:
        return ast.parse(source)
    except SyntaxError:
        return ast.parse("")


__all__ = ["Limits", "RunResult", "Finding", "Scan", "clean_env", "run_limited", "sweep", "scan_submission", "repair_submission",
           "scan_source", "MARKER", "FEEDBACK_NAMES", "processes_with", "describe"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit("course_tools.sandbox is a library; use python -m course_tools.classroom")
