"""Fixtures for the classroom tests: a course root holding the tiny assignment."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

from classroom_tiny import TINY, WRONG, tiny_notebook


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """A course root holding 99-tiny (source, release) and its wrong answers, like the checkout's layout."""
    from course_tools import classroom, notebooks

    root = tmp_path_factory.mktemp("tiny-root")
    (root / "nbgrader_config.py").write_text((notebooks.course_root() / "nbgrader_config.py").read_text())
    (root / "solutions" / TINY).mkdir(parents=True)
    nbformat.write(tiny_notebook(), str(root / "solutions" / TINY / f"{TINY}.ipynb"))
    classroom._nbgrader(["generate_assignment", TINY, "--force"], root)
    (root / "tests" / "fixtures" / "wrong_answers").mkdir(parents=True)
    (root / "tests" / "fixtures" / "wrong_answers" / f"{TINY}.yml").write_text(yaml.safe_dump(WRONG, sort_keys=False))
    return root
