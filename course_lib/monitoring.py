"""Model monitoring: an inference log, windowed metrics with late labels, alerts and a dashboard.

What a serving team needs to answer "is the model still doing its job?":

* :class:`InferenceLogger` writes one JSON line per prediction — when, which request,
  which model version, the inputs, the output and the request's latency — into the
  workspace; :func:`read_log` reads it back as a DataFrame (inputs as columns);
* :func:`churn_labels` turns the scenario's outcomes into a label feed that arrives late
  (month M's outcome is known at the end of month M+1);
* :func:`window_metrics` joins predictions with the labels that have *arrived* by a date
  and computes quality (AUC, log loss, accuracy) and latency percentiles per time window;
* :func:`alerts` compares those metrics with thresholds; :func:`plot_dashboard` draws them.

Nothing happens at import; matplotlib and scikit-learn are imported by the functions that use them.

Introduced in 09-monitoring.
"""

from __future__ import annotations

import json
import time as _time
import uuid
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["InferenceLogger", "log_inference", "read_log", "churn_labels", "window_metrics", "alerts",
           "plot_dashboard"]

_RULES = ("min", "max")
_PERIODS = {"MS": "M", "M": "M", "ME": "M", "W": "W", "D": "D", "QS": "Q", "Q": "Q"}


def _iso(moment: Any) -> str:
    if moment is None:
        return pd.Timestamp.now(tz="UTC").tz_localize(None).isoformat()
    return pd.Timestamp(moment).isoformat()


class InferenceLogger:
    """Append predictions to a JSON-lines inference log, one line per predicted row.

    Each line holds ``time`` (ISO 8601; the scenario's clock when given, else now),
    ``request_id``, ``prediction_id`` (the row's key, used to join labels later),
    ``model_version``, ``inputs`` (a dict of the row's features), ``output`` (the score)
    and ``latency_ms`` (of the whole request the row came in).

    Introduced in 09-monitoring.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.suffix != ".jsonl":
            raise ValueError(f"An inference log is a .jsonl file, got {self.path.name!r}.")
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, inputs: pd.DataFrame, outputs: Sequence[float], *, model_version: str | int, latency_ms: float,
            prediction_ids: Sequence[str] | None = None, time: Any = None, request_id: str | None = None) -> str:
        """Append one request's rows; return its ``request_id``.

        Raises:
            ValueError: if ``outputs`` (or ``prediction_ids``) do not have one entry per row,
                or the latency is negative.
        """
        outputs = list(np.asarray(outputs, dtype=float).ravel())
        if len(outputs) != len(inputs):
            raise ValueError(f"{len(inputs)} input rows but {len(outputs)} outputs: log one output per row.")
        ids = list(prediction_ids) if prediction_ids is not None else [None] * len(inputs)
        if len(ids) != len(inputs):
            raise ValueError(f"{len(inputs)} input rows but {len(ids)} prediction_ids.")
        if not latency_ms >= 0:
            raise ValueError(f"latency_ms must be a non-negative number of milliseconds, got {latency_ms!r}.")
        request_id = request_id or uuid.uuid4().hex[:12]
        stamp = _iso(time)
        records = json.loads(inputs.to_json(orient="records", date_format="iso"))
        with self.path.open("a", encoding="utf-8") as handle:
            for row, (features, output, pid) in enumerate(zip(records, outputs, ids)):
                handle.write(json.dumps({
                    "time": stamp, "request_id": request_id, "row": row, "prediction_id": pid,
                    "model_version": str(model_version), "inputs": features, "output": float(output),
                    "latency_ms": float(latency_ms), "logged_at": _time.time(),
                }, sort_keys=True) + "\n")
        return request_id

    def read(self) -> pd.DataFrame:
        """The whole log as a DataFrame (see :func:`read_log`)."""
        return read_log(self.path)


def log_inference(path: str | Path, inputs: pd.DataFrame, outputs: Sequence[float], **fields: Any) -> str:
    """Append one request to the inference log at ``path`` (see :meth:`InferenceLogger.log`).

    Introduced in 09-monitoring.
    """
    return InferenceLogger(path).log(inputs, outputs, **fields)


def read_log(path: str | Path) -> pd.DataFrame:
    """Read an inference log: one row per prediction, ``time`` as datetime, inputs as columns.

    Raises:
        FileNotFoundError: if there is no log at ``path``.

    Introduced in 09-monitoring.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No inference log at {path}: log some predictions first.")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not records:
        return pd.DataFrame(columns=["time", "request_id", "row", "prediction_id", "model_version", "output",
                                     "latency_ms"])
    frame = pd.DataFrame.from_records(records)
    inputs = pd.DataFrame.from_records(frame.pop("inputs").tolist())
    frame = pd.concat([frame, inputs], axis=1)
    frame["time"] = pd.to_datetime(frame["time"], format="ISO8601")
    return frame


def churn_labels(frame: pd.DataFrame, *, entity: str = "customer_id", timestamp: str = "snapshot_date",
                 target: str = "churned", delay_months: int = 1) -> pd.DataFrame:
    """The outcomes of a churn panel as a late label feed.

    Returns ``prediction_id`` (``"<customer_id>@YYYY-MM"``), ``label`` and ``available_at``:
    the month-end ``delay_months`` after the snapshot, when the operator learns who left.

    Introduced in 09-monitoring.
    """
    missing = {entity, timestamp, target} - set(frame.columns)
    if missing:
        raise KeyError(f"The frame needs the columns {sorted(missing)} to build labels.")
    snapshot = pd.to_datetime(frame[timestamp])
    return pd.DataFrame({
        "prediction_id": frame[entity].astype(str) + "@" + snapshot.dt.strftime("%Y-%m"),
        "label": frame[target].astype(int).to_numpy(),
        "available_at": snapshot + pd.offsets.MonthEnd(delay_months),
    }).reset_index(drop=True)


def window_metrics(log: pd.DataFrame, labels: pd.DataFrame, *, window: str = "MS", as_of: Any = None,
                   threshold: float = 0.5, min_labels: int = 50) -> pd.DataFrame:
    """Quality and latency of the logged predictions, per time window.

    Labels join the log on ``prediction_id``; only labels with ``available_at <= as_of``
    count (all of them when ``as_of`` is None). A window with fewer than ``min_labels``
    labels (or a single class) gets NaN quality: not yet known is not the same as good.

    Returns:
        One row per window: ``window`` (its start), ``n`` (predictions), ``labelled``,
        ``mean_score``, ``auc``, ``log_loss``, ``accuracy`` (at ``threshold``),
        ``latency_p50_ms``, ``latency_p95_ms`` (over requests, not rows).

    Introduced in 09-monitoring.
    """
    from sklearn.metrics import log_loss, roc_auc_score

    for name, frame, needed in (("log", log, {"time", "prediction_id", "output", "latency_ms", "request_id"}),
                                ("labels", labels, {"prediction_id", "label", "available_at"})):
        missing = needed - set(frame.columns)
        if missing:
            raise KeyError(f"The {name} needs the columns {sorted(needed)}; missing {sorted(missing)}.")
    period = _PERIODS.get(window)
    if period is None:
        raise ValueError(f"Unknown window {window!r}; use one of {sorted(_PERIODS)} (pandas offset aliases).")
    known = labels if as_of is None else labels[pd.to_datetime(labels["available_at"]) <= pd.Timestamp(as_of)]
    joined = log.merge(known[["prediction_id", "label"]].drop_duplicates("prediction_id"), on="prediction_id", how="left")
    rows = []
    for start, part in joined.groupby(pd.to_datetime(joined["time"]).dt.to_period(period).dt.start_time, sort=True):
        scored = part.dropna(subset=["label"])
        y, p = scored["label"].astype(int), scored["output"].astype(float)
        enough = len(scored) >= min_labels and y.nunique() == 2
        latencies = part.drop_duplicates("request_id")["latency_ms"].to_numpy(float)
        rows.append({
            "window": start, "n": len(part), "labelled": len(scored), "mean_score": float(part["output"].mean()),
            "auc": float(roc_auc_score(y, p)) if enough else np.nan,
            "log_loss": float(log_loss(y, p.clip(1e-6, 1 - 1e-6), labels=[0, 1])) if enough else np.nan,
            "accuracy": float(((p >= threshold).astype(int) == y).mean()) if enough else np.nan,
            "latency_p50_ms": float(np.percentile(latencies, 50)), "latency_p95_ms": float(np.percentile(latencies, 95)),
        })
    return pd.DataFrame(rows, columns=["window", "n", "labelled", "mean_score", "auc", "log_loss", "accuracy",
                                       "latency_p50_ms", "latency_p95_ms"])


def alerts(metrics: pd.DataFrame, thresholds: Mapping[str, tuple[str, float]]) -> pd.DataFrame:
    """Every (window, metric) that breaks its threshold.

    ``thresholds`` maps a metric column to ``("min", value)`` (alert when below) or
    ``("max", value)`` (alert when above), e.g. ``{"auc": ("min", 0.85),
    "latency_p95_ms": ("max", 50)}``. Missing values (no labels yet) never alert.

    Returns:
        Columns ``window``, ``metric``, ``value``, ``rule``, ``threshold``, ``message``.

    Introduced in 09-monitoring.
    """
    rows = []
    for metric, rule in thresholds.items():
        if metric not in metrics.columns:
            raise KeyError(f"No metric {metric!r}; the metrics table has {list(metrics.columns)}.")
        if not (isinstance(rule, (tuple, list)) and len(rule) == 2 and rule[0] in _RULES):
            raise ValueError(f"A threshold is ('min', value) or ('max', value); got {rule!r} for {metric!r}.")
        kind, limit = rule[0], float(rule[1])
        for window, value in zip(metrics["window"], metrics[metric]):
            if pd.notna(value) and (value < limit if kind == "min" else value > limit):
                word = "below" if kind == "min" else "above"
                rows.append({"window": window, "metric": metric, "value": float(value), "rule": kind,
                             "threshold": limit, "message": f"{metric} {value:.3f} {word} {limit:g}"})
    return pd.DataFrame(rows, columns=["window", "metric", "value", "rule", "threshold", "message"])


def plot_dashboard(metrics: pd.DataFrame, thresholds: Mapping[str, tuple[str, float]] | None = None, *,
                   events: Mapping[str, str] | None = None, quality: str = "auc") -> Any:
    """A three-panel monitoring dashboard: traffic and labels, quality, latency. Returns the figure.

    Thresholds are drawn as red lines and breaches as red dots; ``events`` maps
    ``"YYYY-MM"`` to a label drawn as a dashed line.

    Introduced in 09-monitoring.
    """
    import matplotlib.pyplot as plt

    needed = {"window", "n", "labelled", quality, "latency_p50_ms", "latency_p95_ms"}
    if needed - set(metrics.columns):
        raise KeyError(f"metrics needs the columns of window_metrics(); missing {sorted(needed - set(metrics.columns))}.")
    thresholds = dict(thresholds or {})
    x = pd.to_datetime(metrics["window"])
    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [1, 1.4, 1]})
    axes[0].bar(x, metrics["n"], width=20, color="#c6dbef", label="predictions")
    axes[0].bar(x, metrics["labelled"], width=12, color="#4c72b0", label="with a label")
    axes[0].set_ylabel("rows")
    axes[1].plot(x, metrics[quality], marker="o", color="#4c72b0", label=quality)
    axes[2].plot(x, metrics["latency_p50_ms"], marker="o", label="p50")
    axes[2].plot(x, metrics["latency_p95_ms"], marker="o", label="p95")
    axes[2].set_ylabel("latency (ms)")
    axes[1].set_ylabel(quality)
    for ax, columns in ((axes[1], [quality]), (axes[2], ["latency_p50_ms", "latency_p95_ms"])):
        for column in columns:
            if column in thresholds:
                kind, limit = thresholds[column]
                ax.axhline(limit, color="#c44e52", linewidth=1.2, label=f"{kind} {limit:g}")
                values = metrics[column]
                bad = values < limit if kind == "min" else values > limit
                ax.scatter(x[bad], values[bad], color="#c44e52", s=70, zorder=3)
    for month, text in (events or {}).items():
        for ax in axes:
            ax.axvline(pd.Timestamp(month + "-01"), color="black", linestyle="--", linewidth=0.8)
        axes[0].annotate(text, (pd.Timestamp(month + "-01"), 1.0), xycoords=("data", "axes fraction"),
                         xytext=(3, -10), textcoords="offset points", fontsize=8, va="top")
    for ax in axes:
        ax.legend(loc="lower left", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title("Monitoring dashboard: traffic, quality (labels arrive late), latency")
    fig.tight_layout()
    return fig
