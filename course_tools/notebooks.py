"""Reading, normalising and listing the course's notebooks."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

ASSIGNMENT_PATTERN = re.compile(r"^\d\d-[a-z0-9]+(?:-[a-z0-9]+)*$")
# Notebook-level metadata worth keeping; everything else (widgets state, toc settings,
# a machine's Python version, signatures) is machine-specific noise in a diff.
_KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info")
_KEPT_CELL_METADATA = ("nbgrader", "tags", "deletable", "editable")


def with_venv_on_path(env: dict[str, str]) -> dict[str, str]:
    """Put this interpreter's bin folder first on PATH (nbgrader calls `alembic`, Jupyter finds kernels)."""
    import os
    import sys

    bin_dir = str(Path(sys.executable).parent)
    env = dict(env)
    env["PATH"] = os.pathsep.join([bin_dir, *[p for p in env.get("PATH", "").split(os.pathsep) if p and p != bin_dir]])
    return env


def course_root() -> Path:
    """The checkout this tooling belongs to."""
    return Path(__file__).resolve().parent.parent


def assignments(root: Path | None = None) -> list[str]:
    """Assignment names (``NN-topic``) that have a solution notebook, sorted."""
    root = root or course_root()
    found = []
    for folder in sorted((root / "solutions").iterdir()):
        if folder.is_dir() and (folder / f"{folder.name}.ipynb").is_file():
            found.append(folder.name)
    return found


def solution_path(name: str, root: Path | None = None) -> Path:
    return (root or course_root()) / "solutions" / name / f"{name}.ipynb"


def release_path(name: str, root: Path | None = None) -> Path:
    return (root or course_root()) / "notebooks" / name / f"{name}.ipynb"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def normalise(nb: nbformat.NotebookNode, *, keep_checksums: bool = False) -> nbformat.NotebookNode:
    """Strip outputs, execution counts and machine-specific metadata, in place; return ``nb``.

    nbgrader writes cell checksums into a release (its validator uses them); a master copy has none.
    """
    nb.metadata = nbformat.NotebookNode(
        {key: nb.metadata[key] for key in _KEPT_NOTEBOOK_METADATA if key in nb.metadata}
    )
    if "kernelspec" not in nb.metadata:
        nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in nb.cells:
        cell.pop("id", None)
        cell.metadata = nbformat.NotebookNode(
            {key: cell.metadata[key] for key in _KEPT_CELL_METADATA if key in cell.metadata}
        )
        if "nbgrader" in cell.metadata and not keep_checksums:
            cell.metadata["nbgrader"].pop("checksum", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        elif "attachments" in cell and not cell.attachments:
            del cell["attachments"]
    nb.nbformat, nb.nbformat_minor = 4, 5
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{index:03d}"
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    """Serialise a notebook the one way the repository stores it."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def write(nb: nbformat.NotebookNode, path: Path, *, keep_checksums: bool = False) -> bool:
    """Write ``nb`` normalised to ``path``; return True when the file changed."""
    text = dumps(normalise(nb, keep_checksums=keep_checksums))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


def without_hidden_tests(source: str) -> str:
    """A test cell's code without the lines between nbgrader's hidden-test markers (markers included)."""
    kept, hidden = [], False
    for line in source.splitlines():
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)
