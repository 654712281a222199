"""Model validation: time-aware folds and a validation gate that explains itself.

* :func:`month_labels` — the ``"YYYY-MM"`` month of each row of a frame;
* :func:`validation_gate` — thresholds agreed in advance plus a comparison with the
  current champion on the same rows, returning a :class:`GateDecision` that says
  pass or fail **and why**, in sentences a reviewer can read.

Introduced in 03-experiments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

__all__ = ["GateDecision", "validation_gate", "month_labels"]


def month_labels(frame: pd.DataFrame, column: str = "snapshot_date") -> pd.Series:
    """Return the ``"YYYY-MM"`` month of every row (same index as ``frame``).

    Introduced in 03-experiments.
    """
    if column not in getattr(frame, "columns", []):
        raise KeyError(f"The frame has no column {column!r}; it has {list(getattr(frame, 'columns', []))}.")
    return pd.to_datetime(frame[column]).dt.strftime("%Y-%m").rename("month")


@dataclass(frozen=True)
class GateDecision:
    """The outcome of a validation gate.

    Attributes:
        passed: True when every rule held.
        reasons: one readable sentence per rule, failed rules first.
        failed: the names of the rules that failed (empty when ``passed``).

    ``bool(decision)`` is ``decision.passed``; ``str(decision)`` is a short report.

    Introduced in 03-experiments.
    """

    passed: bool
    reasons: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = "PASS" if self.passed else f"FAIL ({len(self.failed)} rule(s) broken)"
        return "\n".join([f"gate: {head}", *(f"  - {reason}" for reason in self.reasons)])


def _number(metrics: Mapping[str, float], name: str, who: str) -> float:
    if name not in metrics:
        raise KeyError(f"The {who} has no metric {name!r}; it has {sorted(metrics)}.")
    value = metrics[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise ValueError(f"The {who}'s metric {name!r} must be a finite number, not {value!r}.")
    return float(value)


def validation_gate(
    candidate: Mapping[str, float],
    *,
    minimums: Mapping[str, float] | None = None,
    maximums: Mapping[str, float] | None = None,
    champion: Mapping[str, float] | None = None,
    margins: Mapping[str, float] | None = None,
) -> GateDecision:
    """Decide whether a candidate model may replace the champion.

    Args:
        candidate: the candidate's metrics, e.g. ``{"auc": 0.86, "ms_per_1000": 4.1}``.
        minimums: floors, ``metric >= value`` (quality metrics such as AUC).
        maximums: ceilings, ``metric <= value`` (costs such as latency or size).
        champion: the current champion's metrics **measured on the same rows**, or None
            when nothing serves yet.
        margins: for each metric compared with the champion, how much worse the candidate
            may be (higher is better): ``candidate >= champion - margin``. Metrics named
            here must be in ``champion`` too.

    Returns:
        A :class:`GateDecision` with one reason per rule.

    Introduced in 03-experiments.
    """
    if not isinstance(candidate, Mapping) or not candidate:
        raise ValueError("candidate must be a non-empty dict of metric name -> value.")
    if not (minimums or maximums or margins):
        raise ValueError("A gate needs at least one rule: give minimums, maximums or margins.")
    if margins and champion is None:
        margins = {}  # nothing serves yet: the thresholds alone decide
    failed: list[str] = []
    good: list[str] = []
    bad: list[str] = []
    for name, floor in (minimums or {}).items():
        value = _number(candidate, name, "candidate")
        ok = value >= floor
        (good if ok else bad).append(f"{name} = {value:.4g} {'>=' if ok else '<'} the floor {floor:.4g}")
        if not ok:
            failed.append(f"min:{name}")
    for name, ceiling in (maximums or {}).items():
        value = _number(candidate, name, "candidate")
        ok = value <= ceiling
        (good if ok else bad).append(f"{name} = {value:.4g} {'<=' if ok else '>'} the ceiling {ceiling:.4g}")
        if not ok:
            failed.append(f"max:{name}")
    for name, margin in (margins or {}).items():
        value, best = _number(candidate, name, "candidate"), _number(champion, name, "champion")
        ok = value >= best - margin
        verdict = "is not worse than" if ok else "is worse than"
        (good if ok else bad).append(
            f"{name} = {value:.4g} {verdict} the champion's {best:.4g} minus the margin {margin:g}")
        if not ok:
            failed.append(f"champion:{name}")
    if champion is None:
        good.append("no champion serves yet, so only the thresholds apply")
    return GateDecision(passed=not failed, reasons=[*bad, *good], failed=failed)
