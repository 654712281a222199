"""Put a notebook back to its released version, keeping a backup of yours.

    python -m course_tools.reset 03-experiments                   # notebook and workspace
    python -m course_tools.reset 03-experiments --keep-workspace  # the notebook only

What it does, for ``notebooks/NN-topic/NN-topic.ipynb``:

1. your copy is moved to ``NN-topic.backup-<date>-<time>.ipynb`` next to it (nothing
   is deleted; no backup is made when your copy is already the released one);
2. the released version is written in its place: from git (``HEAD``, or ``--ref``)
   when the course is a git checkout that tracks the notebook, otherwise a fresh
   release generated from ``solutions/`` by the same machinery as ``make release``;
3. the notebook's ``workspace/`` (MLflow store, data lake, server logs; everything
   the notebook recreates when it runs) is removed, unless ``--keep-workspace``.

Shut the notebook's kernel down first; if the notebook is open, reload it from disk
(*File → Reload Notebook from Disk*) instead of saving over the reset.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from course_tools import notebooks


@dataclass(frozen=True)
class ResetResult:
    """What :func:`reset` did."""

    notebook: Path
    source: str
    backup: Path | None
    workspace_removed: Path | None


def course_root() -> Path:
    """The course checkout (``COURSE_ROOT`` when set, as in ``course_lib.paths``)."""
    override = os.environ.get("COURSE_ROOT")
    return Path(override).resolve() if override else notebooks.course_root()


def known_modules(root: Path) -> list[str]:
    """Modules that have a released notebook or a solution notebook."""
    found = set()
    for folder in ("notebooks", "solutions"):
        base = root / folder
        if base.is_dir():
            found.update(p.name for p in base.iterdir()
                         if notebooks.ASSIGNMENT_PATTERN.match(p.name) and (p / f"{p.name}.ipynb").is_file())
    return sorted(found)


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)


def released_from_git(root: Path, name: str, ref: str = "HEAD") -> str | None:
    """The notebook's text at ``ref`` when ``root`` is a git checkout that tracks it, else None."""
    if shutil.which("git") is None or not (root / ".git").exists():
        return None
    result = _git(root, "show", f"{ref}:notebooks/{name}/{name}.ipynb")
    return result.stdout if result.returncode == 0 else None


def released_from_solutions(root: Path, name: str) -> str:
    """A fresh release of ``solutions/<name>`` (nbgrader, in a scratch folder), as text."""
    from course_tools import release

    if not notebooks.solution_path(name, root).is_file():
        raise FileNotFoundError(
            f"Cannot rebuild {name}: this copy of the course is not a git checkout and has no "
            f"solutions/{name}/{name}.ipynb. Download the notebook again from the course's repository.")
    with tempfile.TemporaryDirectory(prefix="course-reset-") as scratch:
        (written,) = release.generate(root, Path(scratch), [name])
        return written.read_text()


def _backup_path(target: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, n = target.with_name(f"{target.stem}.backup-{stamp}.ipynb"), 1
    while candidate.exists():
        candidate, n = target.with_name(f"{target.stem}.backup-{stamp}-{n}.ipynb"), n + 1
    return candidate


def reset(name: str, *, root: Path | None = None, keep_workspace: bool = False, ref: str = "HEAD") -> ResetResult:
    """Reset ``notebooks/<name>/<name>.ipynb`` to its released version (see the module's docstring).

    Raises:
        ValueError: ``name`` is not a module of the course.
        FileNotFoundError: no released version can be found or built.
    """
    root = (root or course_root()).resolve()
    modules = known_modules(root)
    if name not in modules:
        raise ValueError(f"No module {name!r} in {root}; known modules: {modules}.")
    text = released_from_git(root, name, ref)
    source = f"git ({ref})"
    if text is None:
        text, source = released_from_solutions(root, name), "a fresh release of solutions/"
    target = notebooks.release_path(name, root)
    backup = None
    if target.exists() and target.read_text() != text:
        backup = _backup_path(target)
        target.rename(backup)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    workspace = target.parent / "workspace"
    removed = None
    if not keep_workspace and workspace.is_dir():
        shutil.rmtree(workspace)
        removed = workspace
    return ResetResult(notebook=target, source=source, backup=backup, workspace_removed=removed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.reset", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module", help="the module to reset, e.g. 00-foundations")
    parser.add_argument("--keep-workspace", action="store_true", help="keep the notebook's workspace/ folder")
    parser.add_argument("--ref", default="HEAD", help="git revision to take the notebook from (default HEAD)")
    args = parser.parse_args(argv)
    root = course_root()
    try:
        result = reset(args.module, root=root, keep_workspace=args.keep_workspace, ref=args.ref)
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))

    def rel(path: Path) -> str:
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    if result.backup:
        print(f"Your notebook is saved as {rel(result.backup)}")
    else:
        print(f"{rel(result.notebook)} was already the released version: no backup needed.")
    print(f"Restored {rel(result.notebook)} from {result.source}.")
    if result.workspace_removed:
        print(f"Removed {rel(result.workspace_removed)} (MLflow store, data, logs); the notebook recreates it.")
    print("If the notebook is open in JupyterLab: File > Reload Notebook from Disk, and restart its kernel.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
