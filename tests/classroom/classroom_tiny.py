"""A tiny nbgrader assignment (three exercises, hidden tests): fast to grade, easy to search for leaks."""

from __future__ import annotations

import textwrap

import nbformat

TINY = "99-tiny"
# Every hidden test line carries one of these words, so a leak is easy to find in feedback HTML.
HIDDEN_WORDS = ("zebra_case", "walrus_case", "okapi_case")


def _meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _code(source: str, **meta):
    return nbformat.v4.new_code_cell(textwrap.dedent(source).strip(), metadata=_meta(**meta))


def _md(source: str, grade_id: str):
    return nbformat.v4.new_markdown_cell(source, metadata=_meta(grade_id, locked=True))


EXERCISES = [
    ("ex1-add", 2, "def add(a, b):\n    \"\"\"Return a + b.\"\"\"", "return a + b",
     ["check_equal(add(2, 3), 5, 'add(2, 3)', hint='Add the two numbers.')"],
     ["zebra_case = add(-7, 7)", "check_equal(zebra_case, 0, 'add(-7, 7)')"]),
    ("ex2-mean", 1, "def mean(values):\n    \"\"\"The arithmetic mean of a non-empty list.\"\"\"", "return sum(values) / len(values)",
     ["check_equal(mean([1, 2, 3]), 2, 'mean([1, 2, 3])')"],
     ["walrus_case = mean([10])", "check_equal(walrus_case, 10, 'mean([10])')"]),
    ("ex3-words", 2, "def count_words(text):\n    \"\"\"Number of words separated by whitespace.\"\"\"", "return len(text.split())",
     ["check_equal(count_words('a b c'), 3, 'count_words(\"a b c\")')"],
     ["okapi_case = count_words('  spaced   out  ')", "check_equal(okapi_case, 2, 'count_words with extra spaces')"]),
]

WRONG = [
    {"name": "subtracts", "cell": "ex1-add", "code": "def add(a, b):\n    return a - b", "must_fail": ["ex1-add-check"]},
    {"name": "integer division", "cell": "ex2-mean", "code": "def mean(values):\n    return sum(values) // len(values) + 1",
     "must_fail": ["ex2-mean-check"]},
    {"name": "splits on one space", "cell": "ex3-words", "code": "def count_words(text):\n    return len(text.split(' '))",
     "must_fail": ["ex3-words-check"]},
]


def tiny_notebook():
    cells = [_md("# 99 · A tiny assignment\n\nFor testing the grader.", "header"),
             nbformat.v4.new_code_cell("from course_lib.feedback import check, check_equal, passed")]
    for grade_id, points, stub, body, visible, hidden in EXERCISES:
        cells.append(_md(f"### {grade_id} ({points} points)", f"{grade_id}-task"))
        cells.append(_code(f"{stub}\n    ### BEGIN SOLUTION\n    {body}\n    ### END SOLUTION", grade_id=grade_id, solution=True))
        if grade_id == "ex1-add":  # a read-only text cell between answer and check, as in the course's lessons
            cells.append(_md("Run the check below.", f"{grade_id}-run-md"))
        check_source = "\n".join([f"# Check: {grade_id}", "from course_lib.feedback import check_equal, passed", *visible,
                                  "### BEGIN HIDDEN TESTS", *hidden, "### END HIDDEN TESTS", f"passed('{grade_id} works')"])
        cells.append(_code(check_source, grade_id=f"{grade_id}-check", grade=True, locked=True, points=points))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


def hidden_lines() -> list[str]:
    return [line for *_, hidden in EXERCISES for line in hidden]
