"""Canary releases: raise a candidate's share of live traffic step by step, gate every step, roll back.

:func:`run_canary` drives a router (:mod:`course_lib.deployment`) through the steps, e.g.
5 → 25 → 50 → 100 % of users on the candidate. At each step it sets the policy, lets real
traffic through (a callable the caller supplies, usually :func:`course_lib.traffic.replay`),
and asks a *gate* whether the candidate is healthy (errors, latency) and good (a quality metric
against the champion's). The first failed gate puts 100 % of traffic back on the champion:
that is the automatic rollback. The returned timeline says what happened at each step and why;
:func:`plot_canary` draws it. (``course_lib.deployment`` re-exports all three.)

Introduced in 08-deployment-strategies.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["TIMELINE_COLUMNS", "step_stats", "threshold_gate", "run_canary", "plot_canary"]

TIMELINE_COLUMNS = ["step", "weight", "requests", "candidate_requests", "error_rate", "latency_p95_ms",
                    "metric", "champion_metric", "decision", "reasons"]
Gate = Callable[[pd.DataFrame], "tuple[bool, list[str]]"]


def _accuracy(rows: pd.DataFrame) -> float:
    """Share of correct answers; a model that answers probabilities is read at the 0.5 threshold."""
    rows = rows[(rows["status"] == 200) & rows["label"].notna()] if "label" in rows else rows.iloc[:0]
    if not len(rows):
        return float("nan")
    predicted = pd.to_numeric(rows["prediction"], errors="coerce")
    if not predicted.isin([0, 1]).all():
        predicted = (predicted >= 0.5).astype(int)
    return float((predicted == rows["label"].astype(int)).mean())


def step_stats(frame: pd.DataFrame, *, champion: str = "champion", candidate: str = "candidate") -> dict:
    """Candidate requests, error rate and p95 latency, and both variants' accuracy, from replayed requests.

    ``frame`` needs the columns ``variant``, ``status``, ``latency_ms``, ``prediction`` and, for the
    accuracy, ``label`` (what :func:`course_lib.traffic.replay` returns).

    Introduced in 08-deployment-strategies.
    """
    missing = {"variant", "status", "latency_ms", "prediction"} - set(frame.columns)
    if missing:
        raise KeyError(f"step_stats needs the columns of traffic.replay(); missing {sorted(missing)}.")
    cand = frame[frame["variant"] == candidate]
    return {
        "candidate_requests": int(len(cand)),
        "error_rate": float((cand["status"] != 200).mean()) if len(cand) else float("nan"),
        "latency_p95_ms": float(np.percentile(cand["latency_ms"], 95)) if len(cand) else float("nan"),
        "metric": _accuracy(cand),
        "champion_metric": _accuracy(frame[frame["variant"] == champion]),
    }


def threshold_gate(*, max_error_rate: float = 0.01, max_p95_ms: float = 1000.0, max_metric_drop: float = 0.05,
                   z: float = 2.0, min_requests: int = 5, champion: str = "champion",
                   candidate: str = "candidate") -> Gate:
    """A gate from thresholds: enough candidate requests, few errors, fast enough, not clearly worse.

    "Clearly worse" allows for the few requests of an early step: the candidate fails when even its
    optimistic accuracy, ``metric + z * sqrt(metric (1 - metric) / n)``, is below the champion's
    minus ``max_metric_drop``. The returned callable takes a step's requests, returns ``(passed, reasons)``.

    Introduced in 08-deployment-strategies.
    """
    def gate(frame: pd.DataFrame) -> tuple[bool, list[str]]:
        s = step_stats(frame, champion=champion, candidate=candidate)
        reasons = []
        if s["candidate_requests"] < min_requests:
            reasons.append(f"only {s['candidate_requests']} candidate requests < {min_requests}: no evidence")
            return False, reasons
        if s["error_rate"] > max_error_rate:
            reasons.append(f"error rate {s['error_rate']:.1%} > {max_error_rate:.1%}")
        if s["latency_p95_ms"] > max_p95_ms:
            reasons.append(f"p95 latency {s['latency_p95_ms']:.0f} ms > {max_p95_ms:.0f} ms")
        m, n = s["metric"], s["candidate_requests"]
        optimistic = m + z * float(np.sqrt(m * (1 - m) / n)) if m == m else float("nan")
        if not optimistic >= s["champion_metric"] - max_metric_drop:
            reasons.append(f"accuracy {m:.3f} (at best {optimistic:.3f}) < champion's "
                           f"{s['champion_metric']:.3f} - {max_metric_drop}")
        return not reasons, reasons or ["all gates passed"]

    return gate


def run_canary(url: str, steps: Sequence[float] = (5, 25, 50, 100), *, gate: Gate | Mapping[str, float],
               traffic: Callable[[], pd.DataFrame], champion: str = "champion", candidate: str = "candidate",
               salt: str = "canary", min_candidate_requests: int = 0, max_rounds: int = 8,
               progress: bool = True) -> pd.DataFrame:
    """Roll ``candidate`` out through ``steps`` (% of users), gating each step; roll back on the first failure.

    Args:
        url: the router's base URL.
        steps: increasing candidate shares in per cent, ending at 100 for a full rollout.
        gate: ``gate(frame) -> (passed, reasons)`` or a mapping of :func:`threshold_gate` arguments.
            ``frame`` is this step's requests plus the champion's requests of the earlier steps
            (column ``step``), so the champion's metric is known even at 100 %.
        traffic: called once per round; sends real requests and returns them (``traffic.replay``).
        champion, candidate: the router's variant names.
        salt: the sticky-assignment salt; the same salt for every step keeps a user's variant.
        min_candidate_requests: a step lasts (calls ``traffic`` again, up to ``max_rounds`` times) until
            the candidate has answered this many requests, so a 5 % step sees as much evidence as a 50 % one.
        max_rounds: the most ``traffic`` calls per step.
        progress: show a progress bar.

    Returns:
        The timeline, one row per step taken: ``TIMELINE_COLUMNS``; ``decision`` is ``continue``,
        ``complete`` or ``rollback``. After a rollback the router sends everything to ``champion``.

    Introduced in 08-deployment-strategies.
    """
    from tqdm.auto import tqdm

    from course_lib.deployment import set_policy

    weights = [float(w) for w in steps]
    if not weights or any(not 0 < w <= 100 for w in weights) or weights != sorted(weights):
        raise ValueError(f"steps are increasing percentages in (0, 100], e.g. (5, 25, 50, 100); got {steps!r}.")
    if isinstance(gate, Mapping):
        gate = threshold_gate(**gate, champion=champion, candidate=candidate)
    rows, seen = [], pd.DataFrame()
    for number, weight in enumerate(tqdm(weights, desc="canary", disable=not progress), start=1):
        set_policy(url, {"strategy": "canary", "salt": salt,
                         "weights": {champion: 100 - weight, candidate: weight}})
        rounds = [traffic()]
        while (sum((r["variant"] == candidate).sum() for r in rounds) < min_candidate_requests
               and len(rounds) < max_rounds):
            rounds.append(traffic())
        frame = pd.concat(rounds, ignore_index=True).assign(step=number)
        judged = pd.concat([frame, seen[seen["variant"] == champion]] if len(seen) else [frame], ignore_index=True)
        ok, reasons = gate(judged)
        seen = pd.concat([seen, frame], ignore_index=True)
        decision = ("complete" if weight == weights[-1] else "continue") if ok else "rollback"
        rows.append({"step": number, "weight": weight, "requests": len(frame),
                     **step_stats(judged, champion=champion, candidate=candidate),
                     "decision": decision, "reasons": "; ".join(reasons)})
        if not ok:
            set_policy(url, {"strategy": "single", "live": champion})
            break
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)


def plot_canary(timeline: pd.DataFrame, *, ax: Any = None, title: str = "Canary rollout") -> Any:
    """Draw the candidate's traffic share step by step, each step coloured by its gate decision.

    Introduced in 08-deployment-strategies.
    """
    import matplotlib.pyplot as plt

    missing = {"step", "weight", "decision", "metric", "champion_metric"} - set(timeline.columns)
    if missing:
        raise KeyError(f"timeline needs the columns of run_canary(); missing {sorted(missing)}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    colours = {"continue": "#55a868", "complete": "#4c72b0", "rollback": "#c44e52"}
    x = list(timeline["step"])
    share = list(timeline["weight"])
    if len(timeline) and timeline["decision"].iloc[-1] == "rollback":
        x, share = x + [x[-1] + 0.6], share + [0.0]
    ax.step(x, share, where="post", color="#999999")
    for _, row in timeline.iterrows():
        ax.scatter(row["step"], row["weight"], s=120, color=colours.get(row["decision"], "k"), zorder=3)
        ax.annotate(f"{row['decision']}\nacc {row['metric']:.2f} vs {row['champion_metric']:.2f}",
                    (row["step"], row["weight"]), textcoords="offset points", xytext=(0, 10), ha="center", fontsize=8)
    if len(share) > len(timeline):
        ax.annotate("automatic rollback: 0 %", (x[-1], 0), textcoords="offset points", xytext=(8, -3),
                    ha="left", fontsize=8, color="#c44e52")
    ax.set(xlabel="step", ylabel="% of users on the candidate", ylim=(-8, 125), title=title,
           xlim=(0.5, max(4.5, x[-1] + 0.5) if x else 4.5))
    ax.set_xticks(list(timeline["step"]))
    return ax
