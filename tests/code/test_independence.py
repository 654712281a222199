"""course_tools.independence: does leaving one exercise blank cost other exercises' points?"""

from __future__ import annotations

import shutil
import textwrap

import nbformat
import pytest

from course_tools import independence, notebooks, release

ROOT = notebooks.course_root()
NAME = "98-chain"


def _meta(grade_id: str, **flags) -> dict:
    meta = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3, "solution": False, "task": False}
    meta.update(flags)
    return {"nbgrader": meta}


def _chain_course(tmp_path, *, stand_in: bool):
    """Two exercises; the second one's check uses a value computed from the first one's answer."""
    handover = ("base = stand_in('Exercise 1', lambda: double(21), lambda: 42)" if stand_in else "base = double(21)")
    cells = [
        nbformat.v4.new_code_cell("from course_lib.feedback import check_equal, passed, stand_in"),
        nbformat.v4.new_code_cell(textwrap.dedent("""\
            def double(x):
                ### BEGIN SOLUTION
                return 2 * x
                ### END SOLUTION"""), metadata=_meta("ex1-double", solution=True)),
        nbformat.v4.new_code_cell("# Check: double\ncheck_equal(double(2), 4, 'double(2)')\npassed('ok')",
                                  metadata=_meta("ex1-double-check", grade=True, locked=True, points=1)),
        nbformat.v4.new_code_cell(handover),
        nbformat.v4.new_code_cell(textwrap.dedent("""\
            def half(x):
                ### BEGIN SOLUTION
                return x // 2
                ### END SOLUTION"""), metadata=_meta("ex2-half", solution=True)),
        nbformat.v4.new_code_cell("# Check: half\ncheck_equal(half(base), 21, 'half(base)')\npassed('ok')",
                                  metadata=_meta("ex2-half-check", grade=True, locked=True, points=1)),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    root = tmp_path / "course"
    (root / "solutions" / NAME).mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    notebooks.write(nb, root / "solutions" / NAME / f"{NAME}.ipynb")
    release.generate(root, root / "notebooks", [NAME])
    return root


def test_names_follow_the_course_convention():
    assert independence.owner("ex3-gate-check") == "ex3-gate"
    assert independence.owner("ex3-gate") == "ex3-gate"
    nb = notebooks.read(notebooks.solution_path("00-foundations", ROOT))
    assert independence.answer_cells(nb)[:2] == ["ex1-fingerprint", "ex2-train-and-log"]


def test_an_unknown_exercise_is_refused_with_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="not an answer cell of 00-foundations.*ex1-fingerprint"):
        independence.skip_one("00-foundations", "ex1-fingerprint-check", tmp_path)


@pytest.mark.slow
def test_a_cascade_is_found_and_a_stand_in_removes_it(tmp_path):
    root = _chain_course(tmp_path / "plain", stand_in=False)
    first = independence.skip_one(NAME, "ex1-double", tmp_path / "w1", root=root)
    assert first.failed_checks == ["ex1-double-check", "ex2-half-check"]
    assert first.collateral == ["ex2-half-check"] and "NameError" in first.errors["ex2-half-check"]
    second = independence.skip_one(NAME, "ex2-half", tmp_path / "w2", root=root)
    assert second.failed_checks == ["ex2-half-check"] and second.collateral == []

    root = _chain_course(tmp_path / "fixed", stand_in=True)
    fixed = independence.skip_one(NAME, "ex1-double", tmp_path / "w3", root=root)
    assert fixed.failed_checks == ["ex1-double-check"] and fixed.collateral == []
    assert "nothing else" in independence.report([fixed])
