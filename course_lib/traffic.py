"""Real traffic for a router, and the statistics of an A/B test.

:func:`replay` sends the scenario's customer-months to a router as real HTTP requests, one
customer per request with the customer's id in the ``X-User-Id`` header, from a few concurrent
clients, and stops after ``n`` requests *or* ``seconds``, whichever comes first. It returns one
row per request with what the router answered and, when the rows carry it, the label that
arrives a month later.

The A/B helpers work on those rows: :func:`two_proportion_test` (is the difference between two
rates more than noise?), :func:`sample_size_per_arm` (how many users to plan for before the
test starts), :func:`running_estimate` and :func:`plot_running_estimate` (why peeking misleads).

Introduced in 08-deployment-strategies.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["REPLAY_COLUMNS", "replay", "two_proportion_test", "sample_size_per_arm", "running_estimate",
           "plot_running_estimate"]

REPLAY_COLUMNS = ["seq", "user", "status", "variant", "model_version", "latency_ms", "prediction", "label", "sent_at"]


def replay(url: str, frame: pd.DataFrame, *, n: int, seconds: float, users: Sequence | None = None,
           clients: int = 4, rate: float | None = None, features: Sequence[str] | None = None,
           user_column: str = "customer_id", label_column: str = "churned") -> pd.DataFrame:
    """Send up to ``n`` one-row requests built from ``frame``'s rows (in order, cycling) within ``seconds``.

    Args:
        url: the router's base URL (``/invocations`` is appended) or a full ``.../invocations`` URL.
        frame: scenario rows, e.g. ``load_churn("2025-10")``.
        n: at most this many requests.
        seconds: and for at most this long.
        users: the ``X-User-Id`` of each request (cycled); default the rows' ``user_column``.
        clients: concurrent clients (threads with a keep-alive connection each).
        rate: at most this many requests per second in total (default: as fast as the router answers).
        features: the model's input columns (default ``course_lib.datasets.FEATURES``).
        user_column, label_column: where the user id and the late-arriving label are.

    Returns:
        One row per request sent, in sending order: ``REPLAY_COLUMNS`` (``seq`` is the client's
        request number; ``status`` is 0 when the connection failed; ``label`` is None without labels).

    Introduced in 08-deployment-strategies.
    """
    import requests

    from course_lib.datasets import FEATURES

    if not 1 <= n <= 20000 or not 0 < seconds <= 60 or not 1 <= clients <= 16 or len(frame) == 0 or (
            rate is not None and rate <= 0):
        raise ValueError("replay needs a non-empty frame, 1 <= n <= 20000, 0 < seconds <= 60, 1-16 clients "
                         "and a positive rate (or None).")
    columns = list(features or FEATURES)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"frame lacks the model's input columns {missing}.")
    target = url if url.rstrip("/").endswith("/invocations") else url.rstrip("/") + "/invocations"
    ids = list(users) if users is not None else (list(frame[user_column]) if user_column in frame else [None])
    labels = frame[label_column].tolist() if label_column in frame else [None] * len(frame)
    records = frame[columns].to_dict(orient="records")
    counter, lock, began = itertools.count(), threading.Lock(), time.perf_counter()
    deadline = began + seconds
    results: list[dict] = []

    def client(_: int) -> None:
        session = requests.Session()
        while time.perf_counter() < deadline:
            with lock:
                i = next(counter)
            if i >= n:
                break
            if rate is not None:
                time.sleep(max(0.0, began + i / rate - time.perf_counter()))
            row, user = records[i % len(records)], ids[i % len(ids)]
            headers = {"X-User-Id": str(user)} if user is not None else {}
            sent, start = time.time(), time.perf_counter()
            try:
                response = session.post(target, json={"dataframe_records": [row]}, headers=headers, timeout=10)
                body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
                status = response.status_code
            except (requests.RequestException, ValueError):
                body, status = {}, 0
            predictions = body.get("predictions") or [None]
            results.append({"seq": i, "user": user, "status": status, "variant": body.get("variant"),
                            "model_version": body.get("model_version"),
                            "latency_ms": (time.perf_counter() - start) * 1000, "prediction": predictions[0],
                            "label": labels[i % len(labels)], "sent_at": sent})
        session.close()

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    return pd.DataFrame(results, columns=REPLAY_COLUMNS).sort_values("seq").reset_index(drop=True)


def two_proportion_test(successes_a: int, n_a: int, successes_b: int, n_b: int, *, alpha: float = 0.05) -> dict:
    """Two-sided two-proportion z-test of B against A, with a (1 - alpha) interval for the difference.

    Returns ``rate_a``, ``rate_b``, ``diff`` (B - A), ``z`` and ``p_value`` (pooled standard error,
    the test), ``ci_low`` and ``ci_high`` (unpooled, the interval) and ``significant``.

    Introduced in 08-deployment-strategies.
    """
    from scipy.stats import norm

    if min(n_a, n_b) < 1 or not (0 <= successes_a <= n_a and 0 <= successes_b <= n_b) or not 0 < alpha < 1:
        raise ValueError("Each arm needs n >= 1 and 0 <= successes <= n; alpha is in (0, 1).")
    p_a, p_b = successes_a / n_a, successes_b / n_b
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (p_b - p_a) / se_pooled if se_pooled > 0 else 0.0
    p_value = float(2 * norm.sf(abs(z)))
    half = norm.ppf(1 - alpha / 2) * math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    return {"rate_a": p_a, "rate_b": p_b, "diff": p_b - p_a, "z": float(z), "p_value": p_value,
            "ci_low": p_b - p_a - half, "ci_high": p_b - p_a + half, "significant": p_value < alpha}


def sample_size_per_arm(p_a: float, mde: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Users per arm to detect a change of ``mde`` from a rate ``p_a`` (two-sided test), rounded up.

    ``n = (z_{1-alpha/2} * sqrt(2 pbar (1 - pbar)) + z_{power} * sqrt(p_a q_a + p_b q_b))^2 / mde^2``
    with ``p_b = p_a + mde`` and ``pbar`` their mean.

    Introduced in 08-deployment-strategies.
    """
    from scipy.stats import norm

    p_b = p_a + mde
    if not 0 < p_a < 1 or not 0 < p_b < 1 or mde == 0 or not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"Need 0 < p_a < 1, mde != 0 with 0 < p_a + mde < 1, alpha and power in (0, 1); "
                         f"got p_a={p_a}, mde={mde}, alpha={alpha}, power={power}.")
    pbar = (p_a + p_b) / 2
    root = (norm.ppf(1 - alpha / 2) * math.sqrt(2 * pbar * (1 - pbar))
            + norm.ppf(power) * math.sqrt(p_a * (1 - p_a) + p_b * (1 - p_b)))
    return int(math.ceil(root ** 2 / mde ** 2 - 1e-9))


def running_estimate(frame: pd.DataFrame, *, arm_a: str, arm_b: str, outcome: str = "correct",
                     variant: str = "variant", alpha: float = 0.05, every: int = 10) -> pd.DataFrame:
    """The A/B difference (B - A) and its interval after each ``every`` requests, in arrival order.

    Columns: ``requests`` (both arms so far), ``n_a``, ``n_b``, ``diff``, ``ci_low``, ``ci_high``, ``p_value``.

    Introduced in 08-deployment-strategies.
    """
    missing = {variant, outcome} - set(frame.columns)
    if missing:
        raise KeyError(f"running_estimate needs the columns {sorted(missing)}.")
    rows = frame[frame[variant].isin([arm_a, arm_b])].reset_index(drop=True)
    is_b = (rows[variant] == arm_b).to_numpy()
    wins = rows[outcome].astype(float).to_numpy()
    out = []
    for end in range(every, len(rows) + 1, every):
        n_b = int(is_b[:end].sum())
        n_a = end - n_b
        if n_a < 2 or n_b < 2:
            continue
        t = two_proportion_test(int(wins[:end][~is_b[:end]].sum()), n_a, int(wins[:end][is_b[:end]].sum()), n_b,
                                alpha=alpha)
        out.append({"requests": end, "n_a": n_a, "n_b": n_b, "diff": t["diff"], "ci_low": t["ci_low"],
                    "ci_high": t["ci_high"], "p_value": t["p_value"]})
    return pd.DataFrame(out, columns=["requests", "n_a", "n_b", "diff", "ci_low", "ci_high", "p_value"])


def plot_running_estimate(estimate: pd.DataFrame, *, planned_n: int | None = None, ax: Any = None,
                          label: str = "B - A") -> Any:
    """Draw the running difference with its interval; mark zero and the planned sample size.

    Introduced in 08-deployment-strategies.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    x = estimate["requests"].to_numpy()
    ax.fill_between(x, estimate["ci_low"], estimate["ci_high"], color="#9ecae1", alpha=0.6, label="95 % interval")
    ax.plot(x, estimate["diff"], color="#08519c", label=label)
    ax.axhline(0, color="black", linewidth=0.8)
    if planned_n is not None:
        ax.axvline(planned_n, color="#c44e52", linestyle="--", label=f"planned sample ({planned_n} requests)")
    ax.set(xlabel="requests so far (both arms)", ylabel="difference in rate")
    ax.legend(fontsize=8, loc="lower right")
    return ax
