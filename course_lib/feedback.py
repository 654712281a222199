"""Feedback for graded cells: say what was expected, what was found, and a hint.

A bare ``assert x == 3`` fails with ``AssertionError`` and nothing else; a learner
studying alone learns nothing from it. The checks here raise :class:`CheckFailed`
(an ``AssertionError``, so nbgrader still counts the cell as failed) with a
message such as::

    ✗ accuracy on the test split
      expected: a value between 0.75 and 1.0
      found:    0.52
      hint:     Did you score the model on the training rows?

and :func:`passed` prints a line when a whole cell's checks pass.

Introduced in 00-foundations.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, TypeVar

__all__ = ["CheckFailed", "check", "check_equal", "check_close", "check_between", "check_type", "check_columns", "passed",
           "stand_in"]

T = TypeVar("T")


class CheckFailed(AssertionError):
    """A graded check failed; the message explains what to fix."""


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check(condition: Any, what: str, *, expected: Any = None, found: Any = None, hint: str | None = None) -> None:
    """Raise :class:`CheckFailed` explaining ``what`` unless ``condition`` is true.

    ``expected`` and ``found`` are shown as text when given (a string is shown as is).

    Introduced in 00-foundations.
    """
    if condition:
        return
    lines = [f"✗ {what}"]
    if expected is not None:
        lines.append(f"  expected: {expected if isinstance(expected, str) else _short(expected)}")
    if found is not None:
        lines.append(f"  found:    {found if isinstance(found, str) else _short(found)}")
    if hint:
        lines.append(f"  hint:     {hint}")
    raise CheckFailed("\n".join(lines))


def check_type(value: Any, types: type | tuple[type, ...], what: str, *, hint: str | None = None) -> None:
    """Check that ``value`` is an instance of ``types``.

    Introduced in 00-foundations.
    """
    names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
    if value is NotImplemented or value is None:
        hint = hint or "It looks like the exercise has not been answered yet."
    check(isinstance(value, types), what, expected=f"a {names}", found=f"{type(value).__name__}: {_short(value, 80)}", hint=hint)


def check_equal(found: Any, expected: Any, what: str, *, hint: str | None = None) -> None:
    """Check ``found == expected`` (for sequences and sets as well as scalars).

    Introduced in 00-foundations.
    """
    try:
        equal = bool(found == expected)
    except (ValueError, TypeError):  # e.g. comparing arrays element-wise
        equal = False
    check(equal, what, expected=_short(expected), found=_short(found), hint=hint)


def check_close(found: Any, expected: float, what: str, *, tol: float = 1e-6, hint: str | None = None) -> None:
    """Check that a number is within ``tol`` (absolute) of ``expected``.

    Introduced in 00-foundations.
    """
    ok = isinstance(found, (int, float)) and not isinstance(found, bool) and math.isfinite(found)
    ok = ok and abs(float(found) - expected) <= tol
    check(ok, what, expected=f"{expected:.6g} (± {tol:g})", found=_short(found), hint=hint)


def check_between(found: Any, low: float, high: float, what: str, *, hint: str | None = None) -> None:
    """Check that a number lies in the closed interval ``[low, high]``.

    Introduced in 00-foundations.
    """
    try:
        number = float(found)
        ok = not isinstance(found, bool) and math.isfinite(number) and low <= number <= high
    except (TypeError, ValueError):
        ok = False
    check(ok, what, expected=f"a value between {low:g} and {high:g}", found=_short(found), hint=hint)


def check_columns(frame: Any, required: Iterable[str], what: str, *, hint: str | None = None) -> None:
    """Check that a DataFrame has (at least) the ``required`` columns.

    Introduced in 00-foundations.
    """
    columns = list(getattr(frame, "columns", []))
    missing = [c for c in required if c not in columns]
    check(
        hasattr(frame, "columns") and not missing,
        what,
        expected=f"columns including {list(required)}",
        found=f"columns {columns}" if hasattr(frame, "columns") else f"a {type(frame).__name__}, not a DataFrame",
        hint=hint or (f"Missing: {missing}" if missing else None),
    )


def passed(message: str) -> None:
    """Print a one-line success message at the end of a graded cell.

    Introduced in 00-foundations.
    """
    print(f"✓ {message}")


def stand_in(exercise: str, answer: Callable[[], T], reference: Callable[[], T], *,
             usable: Callable[[T], Any] | None = None, what: str = "the reference") -> T:
    """``answer()`` if it works, else ``reference()``, saying so: one missing answer must not sink the lesson.

    Later sections build on earlier answers. Without a stand-in, a learner who has not done ``exercise``
    yet (its stub raises ``NotImplementedError``), or whose answer fails, sees every later cell fail
    with it, and loses the points of later exercises that are right. The exercise's own check has
    already graded the answer; from here on the lesson goes on with ``reference()`` and prints why.

    Args:
        exercise: as the learner knows it, e.g. ``"Exercise 2"``.
        answer: returns what the learner's code produced (a value, or the learner's function).
        reference: returns the stand-in (a value built by the lesson, or a course_lib function).
        usable: optional test of the answer (true when usable); an answer that fails it, or raises
            inside it, is replaced too.
        what: how to name the stand-in in the note, e.g. ``"the worked example's run"``.

    Introduced in 00-foundations.
    """
    if not (callable(answer) and callable(reference)):
        raise TypeError("stand_in() takes two functions without arguments: stand_in(exercise, lambda: answer, lambda: reference)")
    try:
        value = answer()
        if usable is None or usable(value):
            return value
        why = "its result is not usable yet"
    except Exception as error:  # noqa: BLE001 - any failure of the learner's code means: use the stand-in
        why = f"{type(error).__name__}{': ' + str(error).splitlines()[0][:120] if str(error).strip() else ''}"
    print(f"↪ {exercise} is not working yet ({why}): {what} stands in so that the rest of the lesson runs. "
          f"Come back to {exercise}, then run the notebook again.")
    return reference()
