"""Helpers for the features lesson: a look-ahead test for panel features and three pictures.

* :func:`lookahead_rows` tells whether a feature function peeks into the future: it
  computes the feature on the whole panel and on the panel cut at a date, and counts
  the rows before the cut whose value changed. A point-in-time-correct feature gives 0.
* :func:`plot_score_vs_k`, :func:`plot_importances` and :func:`plot_auc_bars` draw the
  lesson's figures in one line each.

Nothing happens at import; matplotlib is imported when a plot is drawn.

Introduced in 02-features.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

__all__ = ["lookahead_rows", "plot_score_vs_k", "plot_importances", "plot_auc_bars"]


def lookahead_rows(
    function: Callable[[pd.DataFrame], pd.DataFrame | pd.Series],
    panel: pd.DataFrame,
    cutoff: str | pd.Timestamp,
    timestamp: str = "snapshot_date",
    columns: list[str] | None = None,
) -> int:
    """Count rows before ``cutoff`` whose feature values change when later rows are added.

    Args:
        function: maps a panel to a frame (or Series) aligned with the panel's index.
        panel: the full panel (rows of many entities and times).
        cutoff: rows with ``timestamp < cutoff`` are compared.
        timestamp: the panel's time column.
        columns: the feature columns to compare (default: all columns of the result).

    Returns:
        How many earlier rows differ (NaN equals NaN). 0 means the feature never looked ahead here.

    Introduced in 02-features.
    """
    if timestamp not in panel.columns:
        raise KeyError(f"The panel has no column {timestamp!r}; columns are {list(panel.columns)}.")
    cut = pd.Timestamp(cutoff)
    past = panel[panel[timestamp] < cut]
    if past.empty:
        raise ValueError(f"No rows before {cut.date()}: pick a cutoff inside the panel's time range.")
    full = pd.DataFrame(function(panel.copy()))
    early = pd.DataFrame(function(past.copy()))
    chosen = columns if columns is not None else list(early.columns)
    missing = [c for c in chosen if c not in full.columns or c not in early.columns]
    if missing:
        raise KeyError(f"The function's result lacks the column(s) {missing}.")
    a = full.loc[past.index, chosen].astype("float64").to_numpy()
    b = early.loc[past.index, chosen].astype("float64").to_numpy()
    same = np.isclose(a, b, rtol=0, atol=1e-9) | (np.isnan(a) & np.isnan(b))
    return int((~same.all(axis=1)).sum())


def plot_score_vs_k(curves: Mapping[str, pd.DataFrame], ax=None, metric: str = "val_auc"):
    """Plot validation score against the number of features, one line per selection method.

    Args:
        curves: method name -> DataFrame with columns ``k`` and ``metric``.
        ax: a matplotlib Axes to draw on (default: a new figure).
        metric: the score column.

    Introduced in 02-features.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.6))
    for name, curve in curves.items():
        if not {"k", metric} <= set(curve.columns):
            raise KeyError(f"Curve {name!r} needs the columns 'k' and {metric!r}; it has {list(curve.columns)}.")
        ax.plot(curve["k"], curve[metric], marker="o", label=name)
    ax.set_xlabel("number of features kept")
    ax.set_ylabel(f"{metric} (validation months)")
    ax.set_title("Validation score against the number of features")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_importances(permutation: pd.Series, impurity: pd.Series, highlight: str | None = None, top: int = 12):
    """Draw permutation and impurity importance side by side (bars sorted by each measure).

    Args:
        permutation: importance by feature name from ``sklearn.inspection.permutation_importance``.
        impurity: importance by feature name from a tree model's ``feature_importances_``.
        highlight: a feature name to colour red in both panels (e.g. a random noise column).
        top: how many features to show in each panel.

    Introduced in 02-features.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, series, title in (
        (axes[0], impurity, "impurity (mean decrease in impurity, training rows)"),
        (axes[1], permutation, "permutation (drop in validation AUC)"),
    ):
        shown = series.sort_values(ascending=False).head(top)[::-1]
        colours = ["tab:red" if name == highlight else "tab:blue" for name in shown.index]
        ax.barh([str(n) for n in shown.index], shown.to_numpy(), color=colours)
        ax.set_title(title, fontsize=10)
        ax.axvline(0, color="black", lw=0.8)
    fig.tight_layout()
    return fig


def plot_auc_bars(aucs: Mapping[str, float], title: str = "Validation AUC", floor: float = 0.5):
    """Bar chart of AUCs with their values written on the bars.

    Introduced in 02-features.
    """
    import matplotlib.pyplot as plt

    if not aucs:
        raise ValueError("plot_auc_bars needs at least one AUC.")
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    names, values = list(aucs), [float(v) for v in aucs.values()]
    bars = ax.bar(names, values, color=["tab:red" if "naive" in n else "tab:green" for n in names])
    for bar, value in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, value + 0.005, f"{value:.3f}", ha="center")
    ax.set_ylim(floor, 1.0)
    ax.set_ylabel("ROC AUC")
    ax.set_title(title)
    return fig
