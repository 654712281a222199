"""The grading round trip for every assignment, as nbgrader really runs it.

* the solution submitted as a student gets full marks; the untouched release gets zero, and the
  grader does not crash on it;
* nbgrader's Validator(invert=True) finds that no test of the release passes;
* every wrong-answer fixture fails the graded cells it names, with a check message;
* every graded cell is covered by at least one fixture.
"""

import pytest

from course_tools import grading, notebooks

ROOT = notebooks.course_root()
ASSIGNMENTS = notebooks.assignments(ROOT)
FIXTURES = ROOT / "tests" / "fixtures" / "wrong_answers"


def _fixtures(name):
    path = FIXTURES / f"{name}.yml"
    assert path.is_file(), f"{name} has no wrong-answer fixtures ({path.relative_to(ROOT)})"
    return grading.load_fixtures(path)


@pytest.mark.notebook
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_autograde_gives_the_solution_full_marks_and_the_release_zero(name, tmp_path):
    scores = grading.autograde(ROOT, name, {
        "solution": notebooks.solution_path(name, ROOT),
        "blank": notebooks.release_path(name, ROOT),
    }, tmp_path)
    score, maximum = scores["solution"]
    assert maximum > 0 and score == maximum, f"{name}: the solution scored {score}/{maximum}"
    assert scores["blank"] == (0, maximum), f"{name}: the untouched release scored {scores['blank'][0]}/{maximum}"


@pytest.mark.notebook
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_validator_finds_the_release_fails_every_test(name, tmp_path):
    result = grading.validate_release(notebooks.release_path(name, ROOT), tmp_path)
    assert result == {}, f"{name}: some tests pass on the untouched release: {result}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_every_graded_cell_has_a_wrong_answer(name):
    graded = grading.graded_cells(notebooks.read(notebooks.solution_path(name, ROOT)))
    covered = {g for f in _fixtures(name) for g in f["must_fail"]}
    missing = sorted(set(graded) - covered)
    assert not missing, f"{name}: graded cells without a wrong-answer fixture: {missing}"


@pytest.mark.notebook
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_wrong_answers_fail_with_a_message(name, tmp_path):
    errors, results = grading.check_wrong_answers(notebooks.solution_path(name, ROOT), _fixtures(name), tmp_path)
    assert not errors, f"{name}: the solution itself fails:\n" + "\n".join(errors)
    problems = [f"{r.name} ({r.cell}): {p}" for r in results for p in r.problems]
    assert not problems, f"{name}: wrong answers not caught properly:\n" + "\n".join(problems)
