"""A traffic router in front of several model versions, with one policy per release strategy.

One process holds every *variant* (a name such as ``champion``, ``candidate``, ``blue`` or
``green``, each bound to a registered model version) and a *policy* that decides which variant
answers each request::

    {"strategy": "single", "live": "champion"}                        everything to one variant
    {"strategy": "blue-green", "live": "blue"}                        the same, with a standby to switch to
    {"strategy": "canary", "weights": {"champion": 95, "candidate": 5}}
    {"strategy": "ab", "weights": {"champion": 50, "candidate": 50}, "salt": "exp-1"}
    {"strategy": "shadow", "primary": "champion", "shadow": "candidate"}

Canary and A/B assignment is *sticky*: a user (header ``X-User-Id``) is hashed into one of 100
buckets, filled in the order the weights are written, so a user keeps a variant while the
weights do not change, and a canary user keeps the candidate when its share grows. In shadow
mode the user gets the primary's answer; the shadow scores a copy in the background.

HTTP API (``python -m course_lib.deployment --port 5000 --variant champion=churn/3``)::

    POST /invocations                   MLflow body -> {"predictions", "variant", "model_version"}
    POST /variants/<name>/invocations   one variant directly (a smoke test); logged as "direct"
    GET  /ping | /policy | /variants | /log?since=<seq>
    PUT  /policy                        {"strategy": ...}: validated, then swapped atomically
    PUT  /variants/<name>               {"model": "churn/4"}: load a version into a variant

Every request is logged (memory and a JSON-lines file): seq, time, user, strategy, variant,
model_version, latency_ms, status, prediction, and the shadow's answer and latency.

Introduced in 08-deployment-strategies.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from course_lib.canary import plot_canary, run_canary, threshold_gate  # noqa: F401 (re-exported)
from course_lib.router import LOG_COLUMNS, STRATEGIES, Router, bucket, choose, validate_policy  # noqa: F401

__all__ = [
    "STRATEGIES", "LOG_COLUMNS", "bucket", "validate_policy", "choose", "Router", "start_router",
    "set_policy", "get_policy", "read_log", "last_seq", "deploy_variant", "list_variants", "invoke_variant",
    "record_release", "release_journal", "run_canary", "plot_canary", "threshold_gate", "main",
]


def start_router(ws, variants: Mapping[str, str], *, policy: Mapping[str, Any] | None = None,
                 name: str = "router", timeout: float = 90.0):
    """Start the router with ``variants`` (e.g. ``{"champion": "models:/churn@champion"}``) and wait for it.

    The request log goes to ``<workspace>/deployment/<name>-requests.jsonl`` (emptied at start).
    Returns the running :class:`course_lib.servers.Server` (``server.url``).

    Introduced in 08-deployment-strategies.
    """
    import sys

    from course_lib.servers import start_server

    if not variants:
        raise ValueError("start_router needs at least one variant, e.g. {'champion': 'models:/churn@champion'}.")
    command = [sys.executable, "-m", "course_lib.deployment", "--port", "{port}",
               "--log", str(ws.subdir("deployment") / f"{name}-requests.jsonl")]
    for variant, spec in variants.items():
        if not variant or "=" in variant or "/" in variant:
            raise ValueError(f"A variant name is a plain word such as 'champion' or 'blue', not {variant!r}.")
        command += ["--variant", f"{variant}={spec}"]
    if policy is not None:
        validate_policy(policy, variants)
        command += ["--policy", json.dumps(dict(policy))]
    env = {"MLFLOW_TRACKING_URI": ws.tracking_uri, "MLFLOW_REGISTRY_URI": ws.tracking_uri}
    return start_server(name, command, log_dir=ws.subdir("servers"), ready_path="/ping", timeout=timeout, env=env)


def _call(method: str, url: str, body: Any = None) -> Any:
    import requests

    response = requests.request(method, url, json=body, timeout=30)
    if response.status_code != 200:
        raise ValueError(f"{method} {url} answered {response.status_code}: {response.text[:400]}")
    return response.json()


def set_policy(url: str, policy: Mapping[str, Any]) -> dict:
    """Replace the router's policy atomically (``PUT /policy``); returns the policy now in force.

    Introduced in 08-deployment-strategies.
    """
    return _call("PUT", url.rstrip("/") + "/policy", dict(policy))


def get_policy(url: str) -> dict:
    """The router's current policy (``GET /policy``).

    Introduced in 08-deployment-strategies.
    """
    return _call("GET", url.rstrip("/") + "/policy")


def list_variants(url: str) -> dict:
    """The router's variants: ``{name: {"model_version", "requests"}}``.

    Introduced in 08-deployment-strategies.
    """
    return _call("GET", url.rstrip("/") + "/variants")


def deploy_variant(url: str, variant: str, model: str) -> dict:
    """Load ``model`` (``"churn/4"`` or ``"models:/churn@champion"``) into ``variant``; the others keep serving.

    Introduced in 08-deployment-strategies.
    """
    return _call("PUT", f"{url.rstrip('/')}/variants/{variant}", {"model": model})


def invoke_variant(url: str, variant: str, frame: pd.DataFrame) -> dict:
    """Send ``frame`` to one variant directly, bypassing the policy (a smoke test); returns the JSON answer.

    Introduced in 08-deployment-strategies.
    """
    from course_lib.serving import to_payload

    return _call("POST", f"{url.rstrip('/')}/variants/{variant}/invocations", to_payload(frame))


def last_seq(url: str) -> int:
    """The router's latest request number: read the log ``since`` it to get only what follows.

    Introduced in 08-deployment-strategies.
    """
    return int(_call("GET", f"{url.rstrip('/')}/log?since={2**62}")["last_seq"])


def read_log(url_or_path: str | Path, since: int = 0) -> pd.DataFrame:
    """The router's request log (from ``GET /log`` or its JSON-lines file), one row per request, by seq.

    Introduced in 08-deployment-strategies.
    """
    source = str(url_or_path)
    if source.startswith("http"):
        records = _call("GET", f"{source.rstrip('/')}/log?since={int(since)}")["records"]
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"No router log at {path}; start_router writes <workspace>/deployment/<name>-requests.jsonl.")
        records = [r for r in map(json.loads, path.read_text().splitlines()) if r["seq"] > since]
    frame = pd.DataFrame(records)
    for column in LOG_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame.sort_values("seq").reset_index(drop=True) if len(frame) else frame[LOG_COLUMNS]


def record_release(ws, *, who: str, what: str, why: str, **details: Any) -> dict:
    """Append a release event (who, what, when, why and ``details``) to ``<workspace>/deployment/journal.jsonl``.

    Introduced in 08-deployment-strategies.
    """
    for field, value in (("who", who), ("what", what), ("why", why)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"A release record needs a non-empty {field!r} (who did what, and why).")
    event = {"when": time.time(), "who": who, "what": what, "why": why, **details}
    with open(ws.subdir("deployment") / "journal.jsonl", "a") as handle:
        handle.write(json.dumps(event, default=str) + "\n")
    return event


def release_journal(ws) -> pd.DataFrame:
    """Every release event recorded with :func:`record_release`, oldest first (``when`` as datetime).

    Introduced in 08-deployment-strategies.
    """
    path = ws.subdir("deployment") / "journal.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    frame = pd.DataFrame(events, columns=sorted({"when", "who", "what", "why"} | {k for e in events for k in e}))
    frame["when"] = pd.to_datetime(frame["when"], unit="s")
    return frame


def main(argv: list[str] | None = None) -> None:
    """Command line: load the variants, then route on 127.0.0.1 until stopped (see :func:`course_lib.router.serve`).

    Introduced in 08-deployment-strategies.
    """
    from course_lib.router import serve

    serve(argv)


if __name__ == "__main__":
    main()
