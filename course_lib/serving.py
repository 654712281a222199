"""Calling, timing and sizing a model endpoint.

The helpers a serving team writes in its first week: turn a DataFrame into the JSON
an MLflow endpoint expects, time a bounded number of requests, summarise the
latencies as percentiles and draw them, run a short load test with a few
concurrent clients, size a deployment with Little's law, and measure the memory of
a server's whole process tree. Everything talks to ``127.0.0.1`` only and stops by
itself (a request count *and* a time limit).

Introduced in 07-serving.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "to_payload", "invoke", "time_calls", "latency_percentiles", "plot_latency",
    "LoadTestResult", "load_test", "required_concurrency", "tree_rss_mb",
]

_ORIENTS = ("split", "records")


def to_payload(frame: Any, orient: str = "split") -> dict:
    """Return the JSON body MLflow's ``/invocations`` expects for ``frame``.

    ``orient="split"`` gives ``{"dataframe_split": {"columns": [...], "data": [[...]]}}``,
    ``"records"`` gives ``{"dataframe_records": [{column: value, ...}, ...]}``. Values go
    through pandas' own JSON writer, so NumPy numbers and dates become plain JSON.

    Introduced in 07-serving.
    """
    if orient not in _ORIENTS:
        raise ValueError(f"orient must be one of {_ORIENTS}, got {orient!r}.")
    if not hasattr(frame, "to_json"):
        raise ValueError(f"to_payload needs a pandas DataFrame, got {type(frame).__name__}.")
    parsed = json.loads(frame.to_json(orient=orient, index=False, date_format="iso"))
    return {"dataframe_split": parsed} if orient == "split" else {"dataframe_records": parsed}


def invoke(url: str, frame: Any, *, orient: str = "split", session: Any = None, timeout: float = 10.0) -> list:
    """POST ``frame`` to an MLflow-style ``/invocations`` URL and return the predictions.

    Raises ``ValueError`` with the server's own message when it answers 4xx/5xx.

    Introduced in 07-serving.
    """
    import requests

    poster = session or requests
    response = poster.post(url, json=to_payload(frame, orient), timeout=timeout)
    if response.status_code != 200:
        raise ValueError(f"{url} answered {response.status_code}: {response.text[:300]}")
    return response.json()["predictions"]


def time_calls(call: Callable[[int], Any], n: int, *, max_seconds: float = 10.0, warmup: int = 5) -> np.ndarray:
    """Call ``call(i)`` up to ``n`` times (after ``warmup`` untimed calls) and return each duration in ms.

    Stops early when ``max_seconds`` have passed, so a slow server cannot hang the notebook.

    Introduced in 07-serving.
    """
    if n < 1 or max_seconds <= 0:
        raise ValueError(f"n must be >= 1 and max_seconds > 0, got n={n}, max_seconds={max_seconds}.")
    for i in range(warmup):
        call(i)
    durations, deadline = [], time.perf_counter() + max_seconds
    for i in range(n):
        start = time.perf_counter()
        call(i)
        durations.append((time.perf_counter() - start) * 1000)
        if time.perf_counter() > deadline:
            break
    return np.asarray(durations)


def latency_percentiles(latencies_ms: Sequence[float], quantiles: Sequence[int] = (50, 95, 99)) -> dict[str, float]:
    """Return ``{"p50": ..., "p95": ..., "p99": ...}`` (same unit as the input) of a latency sample.

    Introduced in 07-serving.
    """
    values = np.asarray(latencies_ms, dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError("latency_percentiles needs a non-empty sample of finite numbers.")
    return {f"p{q}": float(np.percentile(values, q)) for q in quantiles}


def plot_latency(latencies_ms: Sequence[float], *, ax: Any = None, title: str = "Latency of single-row requests"):
    """Histogram of latencies (ms) with p50, p95 and p99 marked; returns the axes.

    Introduced in 07-serving.
    """
    import matplotlib.pyplot as plt

    values = np.asarray(latencies_ms, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    upper = np.percentile(values, 99.5) * 1.2
    ax.hist(values[values <= upper], bins=50, color="#9ecae1")
    for (label, value), colour in zip(latency_percentiles(values).items(), ("#2ca02c", "#ff7f0e", "#d62728")):
        ax.axvline(value, color=colour, linestyle="--", label=f"{label} = {value:.1f} ms")
    ax.set(xlabel="latency (ms)", ylabel="requests", title=title)
    ax.legend()
    return ax


@dataclass
class LoadTestResult:
    """What a load test measured: per-request latencies (ms), errors and wall time (s).

    Introduced in 07-serving.
    """

    latencies_ms: np.ndarray
    errors: int
    seconds: float
    clients: int

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return len(self.latencies_ms) / self.seconds if self.seconds > 0 else 0.0


def load_test(call: Callable[[], Any], *, clients: int = 4, seconds: float = 3.0, max_requests: int = 2000) -> LoadTestResult:
    """Run ``call()`` from ``clients`` threads for ``seconds`` (or ``max_requests`` in total).

    A call that raises counts as an error; the test stops by itself.

    Introduced in 07-serving.
    """
    if not 1 <= clients <= 32 or not 0 < seconds <= 60 or max_requests < 1:
        raise ValueError("Use 1-32 clients, 0-60 seconds and max_requests >= 1 for a local load test.")
    deadline = time.perf_counter() + seconds
    per_client = math.ceil(max_requests / clients)

    def client(_: int) -> tuple[list[float], int]:
        durations, errors = [], 0
        while time.perf_counter() < deadline and len(durations) + errors < per_client:
            start = time.perf_counter()
            try:
                call()
                durations.append((time.perf_counter() - start) * 1000)
            except Exception:
                errors += 1
        return durations, errors

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(client, range(clients)))
    elapsed = time.perf_counter() - start
    latencies = np.asarray([d for durations, _ in results for d in durations])
    return LoadTestResult(latencies, sum(e for _, e in results), elapsed, clients)


def required_concurrency(throughput_rps: float, latency_s: float) -> float:
    """Little's law: requests in flight = arrival rate (per s) x time each spends in the system (s).

    >>> required_concurrency(200, 0.05)
    10.0

    Introduced in 07-serving.
    """
    if throughput_rps < 0 or latency_s < 0:
        raise ValueError("Throughput and latency must be non-negative (requests/s and seconds).")
    return float(throughput_rps * latency_s)


def tree_rss_mb(pid: int) -> float:
    """Resident memory (MB) of process ``pid`` and all its descendants.

    Introduced in 07-serving.
    """
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess as error:
        raise ValueError(f"No running process with pid {pid}.") from error
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20
