"""Where the course's files are, found through the installed package.

Notebooks never build paths relative to their working directory: nbgrader's
autograder runs them three folders deep (``autograded/<student>/<assignment>/``),
Binder runs them from the repository root, and a learner may copy one anywhere.
Everything the course ships is located from this package instead.

Introduced in 00-foundations.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["course_root", "datasets_dir", "dataset_path"]

_ROOT_ENV = "COURSE_ROOT"


def course_root() -> Path:
    """Return the course's top folder (the one holding ``datasets/`` and ``solutions/``).

    The package is installed in editable mode (``pip install -e .``), so the
    folder above ``course_lib/`` is the checkout. ``COURSE_ROOT`` overrides this
    for unusual installs.

    Introduced in 00-foundations.
    """
    override = os.environ.get(_ROOT_ENV)
    root = Path(override) if override else Path(__file__).resolve().parent.parent
    if not (root / "datasets").is_dir():
        raise FileNotFoundError(
            f"The course's datasets/ folder is not in {root}. Install the course with "
            "`pip install -e .` from its checkout, or set COURSE_ROOT to the checkout's path."
        )
    return root


def datasets_dir() -> Path:
    """Return the ``datasets/`` folder of the course.

    Introduced in 00-foundations.
    """
    return course_root() / "datasets"


def dataset_path(*parts: str) -> Path:
    """Return the path of a file shipped in ``datasets/``, failing clearly if it is missing.

    >>> dataset_path("churn", "events.json").name
    'events.json'

    Introduced in 00-foundations.
    """
    if not parts:
        raise ValueError("dataset_path() needs at least one path component, e.g. dataset_path('churn')")
    path = datasets_dir().joinpath(*parts)
    if not path.exists():
        available = sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []
        raise FileNotFoundError(
            f"No dataset file {path.relative_to(datasets_dir().parent)}. "
            f"Available next to it: {available or 'nothing'}."
        )
    return path
