"""Your progress through the course, read from your own notebooks.

Every graded ``# Check:`` cell you have run keeps its output in the saved notebook:
an error means the check failed, a clean output means it passed, no output means
you have not run it yet. This module reads those outputs (it runs nothing) and
summarises them per module and per concept::

    python -m course_lib.progress                 # the course's notebooks/ folder
    python -m course_lib.progress ~/my-notebooks  # any folder of course notebooks
    python -m course_lib.progress --png progress.png

or, in a notebook, ``plot_progress(progress())``; the last cell of every module
calls ``show_progress("NN-topic")`` for that module. Save your notebooks first:
the status is the one of the last saved run. Hidden tests run only when your
instructor grades; a passed check here is the visible part of it.

Introduced in 00-foundations.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from course_lib.paths import course_root
from course_lib.syllabus import TAG_PREFIX, concepts

__all__ = ["exercise_status", "progress", "concept_progress", "plot_progress", "plot_exercises", "show_progress", "main"]

STATUSES = ("passed", "failed", "not run")


def _status(cell: dict) -> str:
    outputs = cell.get("outputs", [])
    if cell.get("execution_count") is None and not outputs:
        return "not run"
    for output in outputs:
        if output.get("output_type") == "error":
            return "failed"
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            return "failed"  # nbgrader gives no points to a cell that writes to stderr
    return "passed"


def exercise_status(notebook: str | Path) -> pd.DataFrame:
    """One row per graded cell of a saved notebook: module, grade_id, points, concepts, status.

    Introduced in 00-foundations.
    """
    path = Path(notebook)
    if path.suffix != ".ipynb" or not path.is_file():
        raise FileNotFoundError(f"{path} is not a notebook file (.ipynb).")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid notebook JSON: {error}") from error
    rows = []
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {})
        grading = meta.get("nbgrader", {})
        if cell.get("cell_type") != "code" or not grading.get("grade"):
            continue
        tags = [t[len(TAG_PREFIX):] for t in meta.get("tags", []) if t.startswith(TAG_PREFIX)]
        rows.append({"module": path.stem, "grade_id": grading.get("grade_id", "?"),
                     "points": float(grading.get("points", 0)), "concepts": tags, "status": _status(cell)})
    return pd.DataFrame(rows, columns=["module", "grade_id", "points", "concepts", "status"])


def progress(folder: str | Path | None = None) -> pd.DataFrame:
    """The status of every graded cell in every course notebook under ``folder`` (default: ``notebooks/``).

    Introduced in 00-foundations.
    """
    root = Path(folder) if folder is not None else course_root() / "notebooks"
    if not root.is_dir():
        raise FileNotFoundError(f"No folder {root}.")
    notebooks = sorted(p for p in root.rglob("[0-9][0-9]-*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts and p.stem == p.parent.name)
    if not notebooks:
        raise FileNotFoundError(f"No course notebooks (NN-topic/NN-topic.ipynb) under {root}.")
    return pd.concat([exercise_status(p) for p in notebooks], ignore_index=True)


def concept_progress(table: pd.DataFrame) -> pd.DataFrame:
    """Per syllabus concept: its module and whether all, some or none of its graded checks pass.

    Concepts whose module has no notebook yet are listed with status ``"no module yet"``.

    Introduced in 00-foundations.
    """
    by_concept = table.explode("concepts").dropna(subset=["concepts"])
    rows = []
    for concept in concepts():
        checks = by_concept[by_concept["concepts"] == concept.id]
        if checks.empty:
            status = "no module yet"
        elif (checks["status"] == "passed").all():
            status = "passed"
        elif (checks["status"] == "not run").all():
            status = "not run"
        else:
            status = "in progress"
        rows.append({"concept": concept.id, "module": concept.module, "checks": len(checks),
                     "passed": int((checks["status"] == "passed").sum()), "status": status})
    return pd.DataFrame(rows)


def plot_progress(table: pd.DataFrame):
    """Bar chart of points passed / failed / not run per module. Returns the matplotlib Figure.

    Introduced in 00-foundations.
    """
    import matplotlib.pyplot as plt

    if table.empty:
        raise ValueError("No graded cells to plot: is this a folder of course notebooks?")
    points = table.pivot_table(index="module", columns="status", values="points", aggfunc="sum", fill_value=0)
    points = points.reindex(columns=list(STATUSES), fill_value=0)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(points) + 1.2))
    points.plot.barh(stacked=True, ax=ax, color=["#2e7d32", "#c62828", "#bdbdbd"], width=0.7)
    ax.invert_yaxis()
    ax.set_xlabel("points")
    ax.set_ylabel("")
    total = points.to_numpy().sum()
    ax.set_title(f"Course progress: {points['passed'].sum():g} of {total:g} points pass their visible checks")
    ax.legend(loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def plot_exercises(table: pd.DataFrame, *, ax=None):
    """One bar per graded cell of a module, as long as its points, coloured by its status.

    Introduced in 00-foundations.
    """
    import matplotlib.pyplot as plt

    if table.empty:
        raise ValueError("No graded cells to plot: is this a course notebook?")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.35 * len(table) + 1.2))
    colours = dict(zip(STATUSES, ["#2e7d32", "#c62828", "#bdbdbd"]))
    ax.barh(table["grade_id"], table["points"], color=[colours[s] for s in table["status"]])
    for y, (points, status) in enumerate(zip(table["points"], table["status"])):
        ax.text(points + 0.05, y, status, va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, table["points"].max() + 1.2)
    ax.set_xlabel("points")
    passed = table.loc[table["status"] == "passed", "points"].sum()
    ax.set_title(f"{table['module'].iloc[0]}: {passed:g} of {table['points'].sum():g} points pass their visible checks")
    ax.figure.tight_layout()
    return ax.figure


def show_progress(module: str, folder: str | Path = ".") -> pd.DataFrame | None:
    """Print and draw the status of every exercise of ``module``, read from its SAVED notebook.

    Looks for ``<folder>/<module>.ipynb`` (the folder a notebook's kernel runs in).
    Returns the table, or None with a message when the notebook is not there
    (renamed, or the kernel runs elsewhere); it never raises for that.

    Introduced in 00-foundations.
    """
    path = Path(folder) / f"{module}.ipynb"
    if not path.is_file():
        print(f"No saved {path.name} in {Path(folder).resolve()}: progress is read from the saved notebook, "
              f"so keep its name and run it from its own folder (or use `python -m course_lib.progress`).")
        return None
    table = exercise_status(path)
    print("Read from the last SAVED version of this notebook: save (Ctrl+S) and re-run this cell to update.")
    print(table[["grade_id", "points", "status"]].to_string(index=False))
    plot_exercises(table)
    return table


def main(argv: list[str] | None = None) -> int:
    """Command line: print progress per module and concept, optionally save the figure.

    Introduced in 00-foundations.
    """
    parser = argparse.ArgumentParser(description="Progress through the course, read from saved notebooks.")
    parser.add_argument("folder", nargs="?", help="folder of course notebooks (default: notebooks/)")
    parser.add_argument("--png", type=Path, help="also save the progress figure here")
    args = parser.parse_args(argv)
    try:
        table = progress(args.folder)
    except (FileNotFoundError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    summary = table.pivot_table(index="module", columns="status", values="points", aggfunc="sum", fill_value=0)
    print(summary.reindex(columns=list(STATUSES), fill_value=0).to_string())
    print()
    by_concept = concept_progress(table)
    print(by_concept[by_concept["status"] != "no module yet"].to_string(index=False))
    if args.png:
        import matplotlib

        matplotlib.use("agg")
        plot_progress(table).savefig(args.png, dpi=120)
        print(f"\nfigure written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
