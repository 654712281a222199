"""Retraining and continuous training: when to retrain, on what, and whether to ship the result.

* :func:`churn_model` — the small model this module retrains (a forest of shallow trees,
  a fraction of a second to fit on six months);
* :func:`train_challenger` — fit it on a chosen window of months;
* :func:`compare` — champion and challenger on the *same* holdout rows;
* :func:`holdout_gate` — that comparison as a gate for :func:`course_lib.registry.promote`;
* :func:`log_scoring_model` — log a model whose endpoint answers probabilities;
* :class:`RetrainPolicy`, :class:`MonitorStatus`, :func:`should_retrain` — the trigger;
* :func:`continuous_training` — detect → retrain → validate → promote → monitor, month by month,
  beside a model that is never retrained; :func:`plot_continuous_training` draws both.

Labels arrive one month late: when month M is scored, the newest labelled month is M−1.

Nothing happens at import; scikit-learn, MLflow and matplotlib are imported on use.

Introduced in 09-monitoring.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from course_lib.datasets import CATEGORICAL_FEATURES, FEATURES, MONTHS, NUMERIC_FEATURES, TARGET, TIMESTAMP
from course_lib.drift import drift_report

__all__ = ["churn_model", "train_challenger", "compare", "holdout_gate", "log_scoring_model", "RetrainPolicy",
           "MonitorStatus", "should_retrain", "continuous_training", "plot_continuous_training"]


def churn_model(seed: int = 0) -> Any:
    """A small churn classifier: a random forest of 40 shallow trees (depth 7) on one-hot categories.

    Trees can learn interactions (a segment of customers) that a linear model cannot; this
    forest fits six months in a fraction of a second and saves in skops' safe format.

    Introduced in 09-monitoring.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    encode = ColumnTransformer([("numeric", "passthrough", NUMERIC_FEATURES),
                                ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES)])
    forest = RandomForestClassifier(n_estimators=40, max_depth=7, min_samples_leaf=20, random_state=seed, n_jobs=1)
    return Pipeline([("encode", encode), ("classifier", forest)])


def _month_list(window: str | Iterable[str]) -> list[str]:
    items = [window] if isinstance(window, str) else list(window)
    months: list[str] = []
    for item in items:
        start, _, end = str(item).partition(":")
        end = end or start
        if start not in MONTHS or end not in MONTHS or MONTHS.index(start) > MONTHS.index(end):
            raise ValueError(f"A window is 'YYYY-MM', 'YYYY-MM:YYYY-MM' (earlier first) or a list of them, "
                             f"within {MONTHS[0]}..{MONTHS[-1]}; got {item!r}.")
        months += MONTHS[MONTHS.index(start):MONTHS.index(end) + 1]
    return sorted(set(months))


def _rows(frame: pd.DataFrame, months: Sequence[str]) -> pd.DataFrame:
    if TIMESTAMP not in frame.columns:
        raise KeyError(f"The frame needs a {TIMESTAMP!r} column to select months.")
    return frame[pd.to_datetime(frame[TIMESTAMP]).dt.strftime("%Y-%m").isin(set(months))]


def train_challenger(frame: pd.DataFrame, window: str | Iterable[str], *, build: Callable[[], Any] | None = None,
                     features: Sequence[str] = FEATURES, target: str = TARGET) -> Any:
    """Fit a new model (``build()``, default :func:`churn_model`) on the rows of ``window``.

    Raises:
        ValueError: if the window selects no rows of ``frame``.

    Introduced in 09-monitoring.
    """
    rows = _rows(frame, _month_list(window))
    if rows.empty or rows[target].nunique() < 2:
        raise ValueError(f"The window {window!r} holds no labelled rows of both classes in this frame.")
    return (build or churn_model)().fit(rows[list(features)], rows[target])


def compare(champion: Any, challenger: Any, holdout: pd.DataFrame, *, features: Sequence[str] = FEATURES,
            target: str = TARGET) -> dict[str, float]:
    """ROC AUC of both models on the same holdout rows: ``champion_auc``, ``challenger_auc``, ``delta``, ``n``.

    Introduced in 09-monitoring.
    """
    from sklearn.metrics import roc_auc_score

    if holdout.empty or holdout[target].nunique() < 2:
        raise ValueError("The holdout needs labelled rows of both classes.")
    scores = {name: float(roc_auc_score(holdout[target], model.predict_proba(holdout[list(features)])[:, 1]))
              for name, model in (("champion_auc", champion), ("challenger_auc", challenger))}
    return {**scores, "delta": scores["challenger_auc"] - scores["champion_auc"], "n": float(len(holdout))}


def holdout_gate(holdout: pd.DataFrame, *, margin: float = 0.0, features: Sequence[str] = FEATURES,
                 target: str = TARGET) -> Callable[[Any, Any], Any]:
    """A gate for :func:`course_lib.registry.promote`: approve when the candidate's AUC on ``holdout``
    is at least the champion's plus ``margin`` (any candidate when there is no champion).

    Introduced in 09-monitoring.
    """
    import mlflow

    from course_lib.registry import Decision

    def gate(candidate: Any, champion: Any) -> Decision:
        load = mlflow.sklearn.load_model
        new = load(f"models:/{candidate.name}/{candidate.version}")
        if champion is None:
            return Decision(True, ["no champion yet"])
        result = compare(load(f"models:/{champion.name}/{champion.version}"), new, holdout,
                         features=features, target=target)
        approved = result["delta"] >= margin
        sign = ">=" if approved else "<"
        return Decision(approved, [f"holdout AUC {result['challenger_auc']:.4f} {sign} champion v{champion.version}'s "
                                   f"{result['champion_auc']:.4f} + {margin:g} on {int(result['n'])} rows"])

    return gate


def log_scoring_model(model: Any, input_example: pd.DataFrame, *, registered_model_name: str | None = None) -> Any:
    """Log a fitted classifier (in an active run) so that its pyfunc/endpoint returns ``predict_proba``.

    Like :func:`course_lib.tracking.log_sklearn_model` (pinned requirements, signature), but the
    served predictions are ``[[p(0), p(1)], ...]``: monitoring needs scores, not labels.

    Introduced in 09-monitoring.
    """
    import mlflow
    from mlflow.models import infer_signature

    from course_lib.tracking import _trusted_types, pip_requirements

    if mlflow.active_run() is None:
        raise RuntimeError("Start a run first: `with mlflow.start_run(): log_scoring_model(...)`.")
    with warnings.catch_warnings():
        # Integer columns could not hold missing values at serving time; the course's inputs have none.
        warnings.filterwarnings("ignore", message=".*Inferred schema contains integer column")
        return mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(input_example, model.predict_proba(input_example)),
            input_example=input_example, registered_model_name=registered_model_name,
            pip_requirements=pip_requirements(), pyfunc_predict_fn="predict_proba",
            skops_trusted_types=_trusted_types(model, ()),
        )


@dataclass(frozen=True)
class RetrainPolicy:
    """When to retrain.

    Attributes:
        max_auc_drop: retrain when the champion's AUC on the newest labelled month is this much
            below its reference AUC (None: no performance trigger).
        min_auc: retrain when that AUC is below this floor (None: no floor).
        min_drifted: retrain when at least this many features drifted (None: no drift trigger).
        cooldown: months after a promotion during which no trigger fires (labels must accumulate).

    Introduced in 09-monitoring.
    """

    max_auc_drop: float | None = 0.02
    min_auc: float | None = None
    min_drifted: int | None = 2
    cooldown: int = 2


@dataclass(frozen=True)
class MonitorStatus:
    """What monitoring knows when month ``month`` is about to be scored.

    Attributes:
        month: the month to score next ("YYYY-MM").
        labelled_month: the newest month with labels (the month before).
        auc: the champion's AUC on ``labelled_month``.
        reference_auc: the champion's AUC when it was validated.
        drifted: features whose distribution in ``labelled_month`` drifted from the champion's training rows.
        months_since_promotion: months since the champion was promoted (None: never retrained).

    Introduced in 09-monitoring.
    """

    month: str
    labelled_month: str
    auc: float
    reference_auc: float
    drifted: tuple[str, ...] = ()
    months_since_promotion: int | None = None


def should_retrain(status: MonitorStatus, policy: RetrainPolicy) -> tuple[bool, list[str]]:
    """Apply ``policy`` to ``status``: ``(retrain?, reasons)``; reasons are given even during a cooldown.

    Introduced in 09-monitoring.
    """
    reasons = []
    if policy.max_auc_drop is not None and status.auc < status.reference_auc - policy.max_auc_drop:
        reasons.append(f"performance: AUC {status.auc:.3f} < reference {status.reference_auc:.3f} - {policy.max_auc_drop:g}")
    if policy.min_auc is not None and status.auc < policy.min_auc:
        reasons.append(f"performance: AUC {status.auc:.3f} < floor {policy.min_auc:g}")
    if policy.min_drifted is not None and len(status.drifted) >= policy.min_drifted:
        reasons.append(f"drift: {len(status.drifted)} features drifted ({', '.join(status.drifted)})")
    cooling = status.months_since_promotion is not None and status.months_since_promotion < policy.cooldown
    if reasons and cooling:
        return False, [*reasons, f"cooldown: promoted {status.months_since_promotion} month(s) ago"]
    return bool(reasons), reasons


def _auc(model: Any, rows: pd.DataFrame, features: Sequence[str], target: str) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(rows[target], model.predict_proba(rows[list(features)])[:, 1]))


def continuous_training(months: Sequence[str], frame: pd.DataFrame | None = None, *, initial_window: str = "2025-01:2025-06",
                        policy: RetrainPolicy | None = None,
                        trigger: Callable[[MonitorStatus], tuple[bool, list[str]]] | None = None,
                        train_months: int = 6, margin: float = 0.0, alpha: float = 0.01,
                        build: Callable[[], Any] | None = None, features: Sequence[str] = FEATURES,
                        target: str = TARGET, on_promote: Callable[[Any, list[str], str], None] | None = None,
                        progress: bool = True) -> pd.DataFrame:
    """Run the continuous-training loop over ``months`` (of ``frame``, default the churn panel)
    beside a model that is never retrained.

    For each month M: monitor the champion on the newest labelled month M−1 (AUC, and drift of
    M−1's inputs against the champion's training rows, Holm-corrected at ``alpha``); ask
    ``trigger(status)`` (default ``should_retrain(status, policy)``); if it fires, train a challenger
    on the ``train_months`` months before M−1, validate both on M−1, promote when the challenger
    is at least ``margin`` better (then call ``on_promote(model, window, month)``); finally score
    month M with the champion and with the static model.

    Returns:
        One row per month: ``month``, ``labelled_month``, ``auc_static``, ``auc_ct``, ``retrained``,
        ``promoted``, ``challenger_auc``, ``champion_auc`` (on M−1), ``champion_window``, ``reasons``.

    Introduced in 09-monitoring.
    """
    if frame is None:
        from course_lib.datasets import load_churn

        frame = load_churn()
    months = list(months)
    if not months or any(m not in MONTHS for m in months) or MONTHS.index(months[0]) < 1:
        raise ValueError(f"months must be scenario months with at least one labelled month before them; got {months}.")
    decide = trigger or (lambda status: should_retrain(status, policy or RetrainPolicy()))
    by_month = {m: part for m, part in frame.groupby(pd.to_datetime(frame[TIMESTAMP]).dt.strftime("%Y-%m"))}
    window = _month_list(initial_window)
    static = champion = train_challenger(frame, window, build=build, features=features, target=target)
    reference_rows = _rows(frame, window)
    valid_months = [m for m in MONTHS[MONTHS.index(window[-1]) + 1:MONTHS.index(months[0])]] or [months[0]]
    reference_auc = float(np.mean([_auc(champion, by_month[m], features, target) for m in valid_months]))
    since: int | None = None
    rows = []
    iterator: Iterable[str] = months
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(months, desc="continuous training", unit="month")
    for month in iterator:
        labelled = MONTHS[MONTHS.index(month) - 1]
        newest = by_month[labelled]
        current_auc = _auc(champion, newest, features, target)
        report = drift_report(reference_rows, newest, features=list(features), alpha=alpha)
        status = MonitorStatus(month, labelled, current_auc, reference_auc,
                               tuple(report.loc[report["drifted"], "feature"]), since)
        fire, reasons = decide(status)
        promoted, challenger_auc = False, np.nan
        if fire:
            start = max(0, MONTHS.index(labelled) - train_months)
            candidate_window = MONTHS[start:MONTHS.index(labelled)]
            challenger = train_challenger(frame, candidate_window, build=build, features=features, target=target)
            challenger_auc = _auc(challenger, newest, features, target)
            if challenger_auc >= current_auc + margin:
                champion, window, promoted = challenger, candidate_window, True
                reference_rows, reference_auc, since = _rows(frame, window), challenger_auc, 0
                if on_promote is not None:
                    on_promote(champion, list(window), month)
        rows.append({"month": month, "labelled_month": labelled,
                     "auc_static": _auc(static, by_month[month], features, target),
                     "auc_ct": _auc(champion, by_month[month], features, target),
                     "retrained": bool(fire), "promoted": promoted, "challenger_auc": challenger_auc,
                     "champion_auc": current_auc, "champion_window": f"{window[0]}..{window[-1]}",
                     "reasons": "; ".join(reasons)})
        since = since + 1 if since is not None else None
    return pd.DataFrame(rows)


def plot_continuous_training(result: pd.DataFrame, *, events: dict[str, str] | None = None, ax: Any = None) -> Any:
    """Quality per month with and without continuous training; retrainings and promotions marked.

    Introduced in 09-monitoring.
    """
    import matplotlib.pyplot as plt

    needed = {"month", "auc_static", "auc_ct", "retrained", "promoted"}
    if needed - set(result.columns):
        raise KeyError(f"result needs the columns of continuous_training(); missing {sorted(needed - set(result.columns))}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.8))
    x = np.arange(len(result))
    ax.plot(x, result["auc_static"], marker="o", color="#8c8c8c", label="never retrained")
    ax.plot(x, result["auc_ct"], marker="o", color="#4c72b0", label="continuous training")
    tried = result["retrained"].to_numpy(bool)
    won = result["promoted"].to_numpy(bool)
    ax.scatter(x[tried & ~won], result["auc_ct"][tried & ~won], marker="x", s=80, color="#dd8452",
               label="retrained, gate rejected", zorder=3)
    ax.scatter(x[won], result["auc_ct"][won], marker="^", s=110, color="#55a868", label="new champion", zorder=3)
    for month, text in (events or {}).items():
        if month in set(result["month"]):
            position = list(result["month"]).index(month)
            ax.axvline(position, color="black", linestyle="--", linewidth=0.8)
            ax.annotate(text, (position, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                        textcoords="offset points", fontsize=8, va="top")
    ax.set_xticks(x, result["month"], rotation=45, ha="right")
    ax.set_ylabel("ROC AUC of the month")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax
