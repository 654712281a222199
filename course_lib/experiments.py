"""Experiments: what identifies a run, and how candidate models are compared.

Two families of helpers:

* **reproducibility** — :func:`data_fingerprint` (the content of a training frame),
  :func:`code_version` (the source of a training function), :func:`environment`
  (pinned package versions) and :func:`run_identity`, which gathers them with the
  seed into the tags every training run should carry;
* **benchmarking** — :func:`mean_ci` (a confidence interval over fold scores),
  :func:`latency_ms_per_1000` (predict time), :func:`serialized_size` (bytes of the
  pickled model), :func:`best_so_far` and the two plots the lesson uses.

Nothing happens at import: MLflow and matplotlib are imported inside the functions
that need them.

Introduced in 03-experiments.
"""

from __future__ import annotations

import hashlib
import inspect
import pickle
import time
from importlib import metadata
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "data_fingerprint", "code_version", "environment", "run_identity", "IDENTITY_KEYS",
    "best_so_far", "mean_ci", "latency_ms_per_1000", "serialized_size",
    "plot_best_so_far", "plot_benchmark",
]

IDENTITY_KEYS = ("seed", "data_fingerprint", "code_version", "environment")
_STACK = ("scikit-learn", "numpy", "pandas", "scipy")


def data_fingerprint(frame: pd.DataFrame) -> str:
    """Return a SHA-256 hex digest of a DataFrame's content (row order and index ignored).

    Args:
        frame: the table, e.g. the training rows.

    Returns:
        64 hex characters; any changed value, added or removed row or renamed column changes it.

    Introduced in 03-experiments.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"data_fingerprint() takes a pandas DataFrame, not {type(frame).__name__}.")
    columns = sorted(map(str, frame.columns))
    rows = pd.util.hash_pandas_object(frame.set_axis(list(map(str, frame.columns)), axis=1)[columns], index=False)
    digest = hashlib.sha256("\x1f".join(columns).encode())
    digest.update(np.sort(rows.to_numpy()).tobytes())
    return digest.hexdigest()


def code_version(func: Callable) -> str:
    """Return ``"src-<12 hex>"``, a hash of a function's source code.

    In a script inside a git repository the commit is the better code version (MLflow
    records it as the tag ``mlflow.source.git.commit``); a function defined in a notebook
    cell has no commit of its own, so its source text is hashed.

    Introduced in 03-experiments.
    """
    if not callable(func):
        raise ValueError(f"code_version() takes a function, not {type(func).__name__}.")
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError) as error:
        raise ValueError(f"The source of {func!r} is not available to hash: {error}") from error
    return "src-" + hashlib.sha256(source.encode()).hexdigest()[:12]


def environment(packages: Sequence[str] = _STACK) -> str:
    """Return the pinned versions of ``packages``, e.g. ``"numpy==2.4.6;scikit-learn==1.9.1"``.

    Introduced in 03-experiments.
    """
    pins = []
    for name in sorted(packages):
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError as error:
            raise ValueError(f"Package {name!r} is not installed; cannot pin it.") from error
    return ";".join(pins)


def run_identity(*, seed: int, frame: pd.DataFrame, func: Callable) -> dict[str, str]:
    """Return the tags that identify a training run: seed, data, code and environment.

    Log them with ``mlflow.set_tags(run_identity(...))``; two runs with equal identities
    and equal params must give equal metrics.

    Introduced in 03-experiments.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, not {seed!r}: an unseeded run cannot be reproduced.")
    return {
        "seed": str(int(seed)),
        "data_fingerprint": data_fingerprint(frame),
        "code_version": code_version(func),
        "environment": environment(),
    }


def best_so_far(scores: Sequence[float]) -> np.ndarray:
    """Return the running maximum of trial scores: the best score after 1, 2, … trials.

    A ``nan`` marks a trial whose score is not comparable (say, one judged on a subsample by
    successive halving): it is skipped, so the curve only moves on comparable scores.

    Introduced in 03-experiments.
    """
    values = np.asarray(scores, dtype=float)
    if values.ndim != 1 or values.size == 0 or np.isinf(values).any() or np.isnan(values).all():
        raise ValueError("best_so_far() needs a non-empty 1-D sequence of scores, at least one of them finite.")
    return np.fmax.accumulate(values)


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Return ``(mean, low, high)``: a Student-t confidence interval for the mean of fold scores.

    Args:
        values: one score per fold (at least two).
        confidence: the interval's level, between 0 and 1.

    Introduced in 03-experiments.
    """
    from scipy import stats

    data = np.asarray(values, dtype=float)
    if data.ndim != 1 or data.size < 2 or not np.isfinite(data).all():
        raise ValueError("mean_ci() needs at least two finite scores, one per fold.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}.")
    mean = float(data.mean())
    half = float(stats.t.ppf((1 + confidence) / 2, data.size - 1) * data.std(ddof=1) / np.sqrt(data.size))
    return mean, mean - half, mean + half


def latency_ms_per_1000(model: Any, X: pd.DataFrame, *, repeats: int = 3) -> float:
    """Return the best of ``repeats`` timings of ``predict_proba`` on 1,000 rows, in milliseconds.

    Rows of ``X`` are repeated (or cut) to exactly 1,000, so models are timed on equal work.

    Introduced in 03-experiments.
    """
    if not hasattr(model, "predict_proba"):
        raise ValueError(f"{type(model).__name__} has no predict_proba(); pass a fitted classifier.")
    if len(X) == 0 or repeats < 1:
        raise ValueError("latency_ms_per_1000() needs at least one row and one repeat.")
    rows = X.iloc[np.arange(1000) % len(X)]
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict_proba(rows)
        timings.append(time.perf_counter() - started)
    return 1000 * min(timings)


def serialized_size(model: Any) -> int:
    """Return the size in bytes of the pickled model: what it costs to store and ship.

    Introduced in 03-experiments.
    """
    return len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))


def plot_best_so_far(curves: Mapping[str, Sequence[float]], *, costs: Mapping[str, Sequence[float]] | None = None,
                     ax=None, baseline: float | None = None):
    """Plot the best score so far, one line per search strategy; return the axes.

    Args:
        curves: strategy name -> the score of each trial, in the order they ran (``nan`` = not comparable).
        costs: strategy name -> the cost of each trial (e.g. the fraction of the data it trained on);
            the x axis is then the cumulative cost instead of the number of trials.
        ax: axes to draw on (a new figure otherwise).
        baseline: a score to draw as a dashed reference line (e.g. the untuned default).

    Introduced in 03-experiments.
    """
    import matplotlib.pyplot as plt

    if not curves:
        raise ValueError("plot_best_so_far() needs at least one strategy's scores.")
    costs = costs or {}
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    for name, scores in curves.items():
        best = best_so_far(scores)
        spent = np.cumsum(np.asarray(costs.get(name, np.ones(best.size)), dtype=float))
        if spent.size != best.size:
            raise ValueError(f"costs[{name!r}] has {spent.size} entries for {best.size} trials.")
        ax.step(spent, best, where="post", marker="o", ms=3, label=name)
    if baseline is not None:
        ax.axhline(baseline, color="grey", ls="--", lw=1, label="untuned default")
    ax.set_xlabel("cost so far (trials on the full data)" if costs else "trials so far")
    ax.set_ylabel("best cross-validated AUC")
    ax.legend(loc="lower right")
    return ax


def plot_benchmark(table: pd.DataFrame):
    """Plot a benchmark table: AUC with its interval, latency and size, one row per model; return the figure.

    The table needs the columns ``model``, ``auc_mean``, ``ci_low``, ``ci_high``,
    ``ms_per_1000`` and ``size_bytes``.

    Introduced in 03-experiments.
    """
    import matplotlib.pyplot as plt

    needed = ["model", "auc_mean", "ci_low", "ci_high", "ms_per_1000", "size_bytes"]
    missing = [c for c in needed if c not in getattr(table, "columns", [])]
    if missing:
        raise KeyError(f"The benchmark table lacks columns {missing}; it needs {needed}.")
    fig, axes = plt.subplots(1, 3, figsize=(11, 0.6 * len(table) + 1.6), sharey=True)
    y = np.arange(len(table))
    error = [table["auc_mean"] - table["ci_low"], table["ci_high"] - table["auc_mean"]]
    axes[0].errorbar(table["auc_mean"], y, xerr=error, fmt="o", capsize=4)
    axes[0].set_xlabel("ROC AUC (mean, 95% CI)")
    axes[1].barh(y, table["ms_per_1000"], color="tab:orange")
    axes[1].set_xlabel("ms per 1,000 predictions")
    axes[2].barh(y, table["size_bytes"] / 1024, color="tab:green")
    axes[2].set_xlabel("serialized size (KiB)")
    axes[0].set_yticks(y, table["model"])
    fig.tight_layout()
    return fig
