import pytest

from course_lib.feedback import (CheckFailed, check, check_between, check_close, check_columns,
                                 check_equal, check_type, passed, stand_in)


def test_check_passes_silently():
    check(True, "anything")


def test_failure_message_says_expected_found_and_hint():
    with pytest.raises(CheckFailed) as info:
        check(False, "accuracy on the test split", expected="above 0.75", found=0.52, hint="Scored on training rows?")
    message = str(info.value)
    assert message.splitlines() == [
        "✗ accuracy on the test split",
        "  expected: above 0.75",
        "  found:    0.52",
        "  hint:     Scored on training rows?",
    ]


def test_checkfailed_is_an_assertion_error_so_nbgrader_counts_it():
    assert issubclass(CheckFailed, AssertionError)


@pytest.mark.parametrize("value, ok", [(0.8, True), (0.5, False), (float("nan"), False), ("0.8", True), (None, False), (True, False)])
def test_check_between(value, ok):
    if ok:
        check_between(value, 0.75, 1.0, "score")
    else:
        with pytest.raises(CheckFailed, match="between 0.75 and 1"):
            check_between(value, 0.75, 1.0, "score")


def test_check_close_rejects_non_numbers_and_far_values():
    check_close(0.3000001, 0.3, "x", tol=1e-3)
    with pytest.raises(CheckFailed, match="0.3"):
        check_close(0.4, 0.3, "x", tol=1e-3)
    with pytest.raises(CheckFailed):
        check_close("0.3", 0.3, "x")


def test_check_equal_handles_arrays_and_long_values():
    import numpy as np

    with pytest.raises(CheckFailed):
        check_equal(np.array([1, 2]), [1, 2], "ids")
    with pytest.raises(CheckFailed) as info:
        check_equal(list(range(1000)), [], "list")
    assert "..." in str(info.value)  # long values are shortened


def test_check_type_hints_at_unanswered_exercise():
    with pytest.raises(CheckFailed, match="not been answered"):
        check_type(None, dict, "the result")
    check_type({}, dict, "the result")


def test_check_columns_names_the_missing_ones():
    import pandas as pd

    check_columns(pd.DataFrame(columns=["a", "b"]), ["a"], "frame")
    with pytest.raises(CheckFailed, match=r"Missing: \['c'\]"):
        check_columns(pd.DataFrame(columns=["a", "b"]), ["a", "c"], "frame")
    with pytest.raises(CheckFailed, match="not a DataFrame"):
        check_columns([1, 2], ["a"], "frame")


def test_passed_prints_a_tick(capsys):
    passed("all good")
    assert capsys.readouterr().out == "✓ all good\n"


def _stub():
    raise NotImplementedError()


def test_stand_in_keeps_a_working_answer_silently(capsys):
    assert stand_in("Exercise 1", lambda: 41 + 1, lambda: 0) == 42
    assert capsys.readouterr().out == ""


def test_stand_in_replaces_a_missing_or_failing_answer_and_says_why(capsys):
    assert stand_in("Exercise 2", _stub, lambda: "reference", what="the worked example's run") == "reference"
    out = capsys.readouterr().out
    assert "Exercise 2 is not working yet (NotImplementedError)" in out and "the worked example's run stands in" in out
    assert stand_in("Exercise 3", lambda: {}["missing"], lambda: 1) == 1
    assert "KeyError: 'missing'" in capsys.readouterr().out


def test_stand_in_tests_usability_and_treats_a_crash_in_the_test_as_unusable(capsys):
    def broken_function(frame):
        raise NotImplementedError()

    chosen = stand_in("Exercise 1", lambda: broken_function, lambda: len, usable=lambda f: f([1, 2]) == 2)
    assert chosen is len and "NotImplementedError" in capsys.readouterr().out
    assert stand_in("Exercise 4", lambda: None, lambda: "ref", usable=lambda v: v is not None) == "ref"
    assert "not usable yet" in capsys.readouterr().out


def test_stand_in_needs_functions():
    with pytest.raises(TypeError, match="two functions"):
        stand_in("Exercise 1", 42, lambda: 0)
