"""Skipping one exercise costs that exercise's points and no other's (see docs/authoring.md).

For each answer cell, the solution notebook runs in a fresh kernel and workspace with that one cell
left as released; only the checks of that exercise may fail. Every module is listed below with its
state: independent, or its measured cascades. To bound the test time, `make test` runs the modules
whose lessons start no servers and have no time-budgeted search (IN_EVERY_RUN); `make independence`
runs every independent module.
"""

import os

import pytest

from course_tools import independence, notebooks

ROOT = notebooks.course_root()

IN_EVERY_RUN = ["00-foundations", "01-data", "02-features", "05-registry"]
INDEPENDENT = IN_EVERY_RUN + ["03-experiments", "04-pipelines", "06-cicd", "07-serving", "08-deployment-strategies",
                             "10-governance"]
# Still cascading, measured with `python -m course_tools.independence NN-topic` on an idle machine:
# skipped exercise -> checks of other exercises that fail with it.
CASCADING = {
    "09-monitoring": {"ex1-score-and-log": ["ex2-quality-as-of-check"]},
    "11-capstone": {
        "ex2-training-set": ["ex3-train-check", "ex8-retrain-check"],
        "ex3-train": ["ex5-govern-check", "ex6-canary-check", "ex7-monitor-check", "ex8-retrain-check"],
        "ex4-validate": ["ex7-monitor-check", "ex8-retrain-check"],
        "ex5-govern": ["ex6-canary-check", "ex8-retrain-check"],
    },
}

SELECTED = INDEPENDENT if os.environ.get("COURSE_ALL_INDEPENDENCE") else IN_EVERY_RUN
CASES = [(name, exercise) for name in SELECTED
         for exercise in independence.answer_cells(notebooks.read(notebooks.solution_path(name, ROOT)))]


@pytest.mark.notebook
@pytest.mark.parametrize("name, exercise", CASES, ids=[f"{n}-without-{e}" for n, e in CASES])
def test_skipping_one_exercise_costs_only_its_own_points(name, exercise, tmp_path):
    result = independence.skip_one(name, exercise, tmp_path, timeout=300)
    own = f"{exercise}{independence.CHECK_SUFFIX}"
    assert own in result.failed_checks, f"{name}: the released stub of {exercise} passes its own check {own}"
    assert not result.collateral, (
        f"{name} without {exercise}: other exercises lose their points too:\n"
        + "\n".join(f"  {check}: {result.errors[check]}" for check in result.collateral)
        + "\nPut a stand-in after the check of the exercise whose result they need (docs/authoring.md).")


def test_every_module_has_a_state():
    listed = set(INDEPENDENT) | set(CASCADING)
    assert set(INDEPENDENT).isdisjoint(CASCADING)
    missing = set(notebooks.assignments(ROOT)) - listed
    assert not missing, f"measure these modules with course_tools.independence and list them: {sorted(missing)}"
