import json

import numpy as np
import pandas as pd
import pytest

from course_lib.monitoring import (InferenceLogger, alerts, churn_labels, log_inference, plot_dashboard, read_log,
                                   window_metrics)


def _frame(n=120, month="2025-07-31"):
    rng = np.random.default_rng(1)
    return pd.DataFrame({"customer_id": [f"C{i:06d}" for i in range(n)], "snapshot_date": pd.Timestamp(month),
                         "x": rng.normal(size=n), "churned": rng.integers(0, 2, n)})


def test_logger_writes_one_line_per_row_and_reads_back(tmp_path):
    logger = InferenceLogger(tmp_path / "logs" / "inference.jsonl")
    rows = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    request = logger.log(rows, [0.2, 0.9], model_version=3, latency_ms=12.5, prediction_ids=["p1", "p2"],
                         time="2025-07-31")
    lines = logger.path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["inputs"] == {"a": 2.0, "b": "y"}
    log = read_log(logger.path)
    assert list(log["prediction_id"]) == ["p1", "p2"] and set(log["request_id"]) == {request}
    assert log["model_version"].tolist() == ["3", "3"] and log["time"].dt.year.tolist() == [2025, 2025]
    assert {"a", "b", "output", "latency_ms"} <= set(log.columns)
    log_inference(logger.path, rows.head(1), [0.5], model_version="4", latency_ms=1.0)
    assert len(read_log(logger.path)) == 3


def test_logger_refuses_mismatched_outputs_and_bad_paths(tmp_path):
    logger = InferenceLogger(tmp_path / "a.jsonl")
    with pytest.raises(ValueError, match="one output per row"):
        logger.log(pd.DataFrame({"a": [1, 2]}), [0.1], model_version=1, latency_ms=1)
    with pytest.raises(ValueError, match="latency"):
        logger.log(pd.DataFrame({"a": [1]}), [0.1], model_version=1, latency_ms=-1)
    with pytest.raises(ValueError, match="jsonl"):
        InferenceLogger(tmp_path / "a.csv")
    with pytest.raises(FileNotFoundError, match="No inference log"):
        read_log(tmp_path / "missing.jsonl")


def test_churn_labels_arrive_a_month_late():
    labels = churn_labels(_frame(3))
    assert labels["prediction_id"].tolist()[0] == "C000000@2025-07"
    assert (labels["available_at"] == pd.Timestamp("2025-08-31")).all()
    with pytest.raises(KeyError):
        churn_labels(pd.DataFrame({"x": [1]}))


def _log_and_labels(tmp_path):
    logger = InferenceLogger(tmp_path / "w.jsonl")
    frames = [_frame(month="2025-07-31"), _frame(month="2025-08-31")]
    for frame in frames:
        ids = (frame["customer_id"] + "@" + frame["snapshot_date"].dt.strftime("%Y-%m")).tolist()
        score = np.clip(frame["churned"] * 0.6 + np.random.default_rng(2).uniform(0, 0.4, len(frame)), 0, 1)
        logger.log(frame[["x"]].iloc[:60], score[:60], model_version=1, latency_ms=10, prediction_ids=ids[:60],
                   time=frame["snapshot_date"].iloc[0])
        logger.log(frame[["x"]].iloc[60:], score[60:], model_version=1, latency_ms=30, prediction_ids=ids[60:],
                   time=frame["snapshot_date"].iloc[0])
    return read_log(logger.path), churn_labels(pd.concat(frames))


def test_window_metrics_counts_only_arrived_labels(tmp_path):
    log, labels = _log_and_labels(tmp_path)
    early = window_metrics(log, labels, as_of="2025-09-15")
    assert early["n"].tolist() == [120, 120] and early["labelled"].tolist() == [120, 0]
    assert early["auc"].iloc[0] == pytest.approx(1.0) and np.isnan(early["auc"].iloc[1])
    assert early["latency_p50_ms"].iloc[0] == pytest.approx(20.0)  # over the two requests, not the rows
    full = window_metrics(log, labels)
    assert full["labelled"].tolist() == [120, 120]
    with pytest.raises(ValueError, match="window"):
        window_metrics(log, labels, window="fortnight")
    with pytest.raises(KeyError, match="prediction_id"):
        window_metrics(log.drop(columns=["prediction_id"]), labels)


def test_alerts_follow_min_and_max_rules_and_skip_missing(tmp_path):
    metrics = pd.DataFrame({"window": pd.to_datetime(["2025-07-01", "2025-08-01", "2025-09-01"]),
                            "auc": [0.9, 0.8, np.nan], "latency_p95_ms": [10, 300, 20]})
    table = alerts(metrics, {"auc": ("min", 0.85), "latency_p95_ms": ("max", 250)})
    assert table["metric"].tolist() == ["auc", "latency_p95_ms"]
    assert (table["window"] == pd.Timestamp("2025-08-01")).all()
    with pytest.raises(ValueError, match="min"):
        alerts(metrics, {"auc": ("above", 1)})
    with pytest.raises(KeyError):
        alerts(metrics, {"recall": ("min", 1)})


def test_dashboard_has_three_panels(tmp_path):
    log, labels = _log_and_labels(tmp_path)
    figure = plot_dashboard(window_metrics(log, labels), {"auc": ("min", 0.9)}, events={"2025-08": "event"})
    assert len(figure.axes) == 3
