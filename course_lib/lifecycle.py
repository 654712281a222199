"""The ML lifecycle in one picture, and a model's score month by month.

Three small helpers that let a notebook show a lifecycle idea in one line:

* :func:`plot_lifecycle` draws the loop data → train → validate → register →
  deploy → monitor → (retrain), coloured by the key component of MLOps each
  stage belongs to, with governance running under all of them;
* :func:`score_by_month` scores a fitted classifier on every monthly snapshot of
  a panel (one row per month: ``month``, ``n``, ``score``);
* :func:`plot_monthly_scores` plots such tables against an agreed threshold,
  the score the model had at validation, and dated events.

Nothing happens at import: matplotlib and scikit-learn are imported by the
functions that need them.

Introduced in 00-foundations.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

import pandas as pd

__all__ = ["STAGES", "KEY_COMPONENTS", "plot_lifecycle", "score_by_month", "plot_monthly_scores"]

STAGES: tuple[str, ...] = ("data", "train", "validate", "register", "deploy", "monitor")
"""The stages of a model's life, in the order a model goes through them."""

KEY_COMPONENTS: dict[str, tuple[str, ...]] = {
    "data management": ("data",),
    "model training": ("train", "validate"),
    "model deployment": ("register", "deploy"),
    "model monitoring": ("monitor",),
    "model governance": STAGES,
}
"""Which stages each key component of MLOps covers (governance spans them all)."""

_COLOURS = {
    "data management": "#4c72b0",
    "model training": "#dd8452",
    "model deployment": "#55a868",
    "model monitoring": "#c44e52",
    "model governance": "#8c8c8c",
}


def _component_of(stage: str) -> str:
    return next(c for c, stages in KEY_COMPONENTS.items() if stage in stages and c != "model governance")


def plot_lifecycle(highlight: str | Iterable[str] | None = None, *, ax: Any = None) -> Any:
    """Draw the ML lifecycle as a loop of stages, coloured by key component.

    Args:
        highlight: a stage name (or several) to emphasise; the others are drawn faded.
        ax: a matplotlib Axes to draw on; a new figure is made when omitted.

    Returns:
        The matplotlib Axes.

    Raises:
        ValueError: if a highlighted stage is not one of :data:`STAGES`.

    Introduced in 00-foundations.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    chosen = {highlight} if isinstance(highlight, str) else set(highlight or ())
    unknown = sorted(chosen - set(STAGES))
    if unknown:
        raise ValueError(f"Unknown stage(s) {unknown}; the stages are {list(STAGES)}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 2.6))
    width, gap = 1.3, 0.45
    for i, stage in enumerate(STAGES):
        x = i * (width + gap)
        faded = bool(chosen) and stage not in chosen
        ax.add_patch(FancyBboxPatch((x, 0.0), width, 0.8, boxstyle="round,pad=0.04",
                                    facecolor=_COLOURS[_component_of(stage)], alpha=0.25 if faded else 0.9,
                                    edgecolor="black", linewidth=2.0 if stage in chosen else 0.6))
        ax.text(x + width / 2, 0.4, stage, ha="center", va="center", fontsize=11,
                color="#555555" if faded else "white", fontweight="bold")
        if i:
            ax.add_patch(FancyArrowPatch((x - gap + 0.04, 0.4), (x - 0.04, 0.4), arrowstyle="-|>", mutation_scale=14))
    right = len(STAGES) * (width + gap) - gap
    ax.add_patch(FancyArrowPatch((right - width / 2, 0.86), (width / 2, 0.86), connectionstyle="arc3,rad=0.12",
                                 arrowstyle="-|>", mutation_scale=14, linestyle="--"))
    ax.text(right / 2, 1.66, "retrain when monitoring says the model no longer fits the world",
            ha="center", fontsize=9, style="italic")
    ax.add_patch(FancyBboxPatch((0, -0.55), right, 0.3, boxstyle="round,pad=0.03",
                                facecolor=_COLOURS["model governance"], alpha=0.35, edgecolor="none"))
    ax.text(right / 2, -0.4, "governance: versions, lineage, gates, audit trail", ha="center", va="center", fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.9) for c in _COLOURS.values()]
    ax.legend(handles, list(_COLOURS), loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=5, fontsize=8, frameon=False)
    ax.set_xlim(-0.2, right + 0.2)
    ax.set_ylim(-0.7, 1.85)
    ax.set_axis_off()
    return ax


def _months(frame: pd.DataFrame, timestamp: str) -> pd.Series:
    if timestamp not in frame.columns:
        raise KeyError(f"The frame has no {timestamp!r} column to take months from; it has {list(frame.columns)}.")
    return pd.to_datetime(frame[timestamp]).dt.strftime("%Y-%m")


def score_by_month(
    model: Any,
    frame: pd.DataFrame,
    *,
    features: Iterable[str],
    target: str,
    timestamp: str = "snapshot_date",
    metric: Callable[[Any, Any], float] | None = None,
) -> pd.DataFrame:
    """Score a fitted classifier on each month of a panel.

    Args:
        model: a fitted classifier with ``predict_proba`` (a scikit-learn pipeline, or
            one loaded with ``mlflow.sklearn.load_model``).
        frame: rows to score, with the feature, target and timestamp columns.
        features: the model's input columns.
        target: the 0/1 label column.
        timestamp: the date column whose month groups the rows.
        metric: ``metric(y_true, churn_probability) -> float``; ROC AUC by default.

    Returns:
        A DataFrame with columns ``month`` (``"YYYY-MM"``), ``n`` (rows) and ``score``,
        one row per month, oldest first.

    Raises:
        ValueError: if the frame is empty or the model cannot give probabilities.

    Introduced in 00-foundations.
    """
    if metric is None:
        from sklearn.metrics import roc_auc_score as metric
    if not hasattr(model, "predict_proba"):
        raise ValueError(f"{type(model).__name__} has no predict_proba: load it with mlflow.sklearn.load_model, "
                         "not mlflow.pyfunc.load_model, to score probabilities.")
    if len(frame) == 0:
        raise ValueError("The frame is empty: there is no month to score.")
    features = list(features)
    months = _months(frame, timestamp)
    rows = []
    for month, part in frame.groupby(months, sort=True):
        probability = model.predict_proba(part[features])[:, 1]
        rows.append({"month": month, "n": len(part), "score": float(metric(part[target], probability))})
    return pd.DataFrame(rows, columns=["month", "n", "score"])


def plot_monthly_scores(
    scores: pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    threshold: float | None = None,
    reference: float | None = None,
    events: Mapping[str, str] | None = None,
    ylabel: str = "ROC AUC",
    ax: Any = None,
) -> Any:
    """Plot one or more models' score per month against a threshold and dated events.

    Args:
        scores: a table from :func:`score_by_month` (columns ``month`` and ``score``),
            or a mapping ``{label: table}`` to compare several models.
        threshold: the agreed minimum score, drawn as a red line.
        reference: the model's validation score, drawn as a grey dotted line.
        events: ``{"YYYY-MM": "what happened"}``, drawn as dashed vertical lines.
        ylabel: the y axis label.
        ax: a matplotlib Axes to draw on; a new figure is made when omitted.

    Returns:
        The matplotlib Axes.

    Introduced in 00-foundations.
    """
    import matplotlib.pyplot as plt

    tables = {"model": scores} if isinstance(scores, pd.DataFrame) else dict(scores)
    if not tables:
        raise ValueError("Give at least one table of scores.")
    for label, table in tables.items():
        if not isinstance(table, pd.DataFrame) or not {"month", "score"} <= set(table.columns):
            raise ValueError(f"Scores {label!r} must be a DataFrame with columns 'month' and 'score'.")
    months = sorted(set().union(*(t["month"] for t in tables.values())) | set(events or {}))
    position = {m: i for i, m in enumerate(months)}
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.8))
    for label, table in tables.items():
        ax.plot([position[m] for m in table["month"]], table["score"], marker="o", label=label)
    if threshold is not None:
        ax.axhline(threshold, color="#c44e52", linewidth=1.5, label=f"threshold {threshold:g}")
    if reference is not None:
        ax.axhline(reference, color="grey", linestyle=":", label=f"validation score {reference:.3g}")
    for month, text in (events or {}).items():
        ax.axvline(position[month], color="black", linestyle="--", linewidth=0.8)
        ax.annotate(text, (position[month], 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=8, rotation=0, va="top")
    ax.set_xticks(range(len(months)), months, rotation=45, ha="right")
    ax.set_ylabel(ylabel)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax
