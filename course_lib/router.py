"""The release router's core: policies, sticky assignment, the request log and the HTTP handler.

:mod:`course_lib.deployment` is the public face (start it, change its policy, read its log);
this module is what runs inside the router process. ``python -m course_lib.deployment`` starts it.

Introduced in 08-deployment-strategies.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlparse

import pandas as pd

from course_lib.servers import JSONHandler, serve_http

__all__ = ["STRATEGIES", "LOG_COLUMNS", "bucket", "validate_policy", "choose", "Router", "serve"]

STRATEGIES = ("single", "blue-green", "canary", "ab", "shadow")
LOG_COLUMNS = ["seq", "time", "user", "strategy", "variant", "model_version", "latency_ms", "status",
               "prediction", "shadow_variant", "shadow_model_version", "shadow_prediction",
               "shadow_latency_ms", "error"]


def bucket(key: str, salt: str = "", buckets: int = 100) -> int:
    """Sticky bucket of a user: ``sha256(salt:key) mod buckets`` (the same in every process, every day).

    Introduced in 08-deployment-strategies.
    """
    return int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest(), 16) % buckets


def validate_policy(policy: Mapping[str, Any], variants: Any) -> dict:
    """Return a clean copy of ``policy`` or raise ``ValueError``/``KeyError`` saying what is wrong.

    Introduced in 08-deployment-strategies.
    """
    if not isinstance(policy, Mapping) or policy.get("strategy") not in STRATEGIES:
        raise ValueError(f"A policy is a dict whose 'strategy' is one of {STRATEGIES}; got {policy!r}.")
    clean, known = dict(policy), set(variants)

    def need(name: Any, role: str) -> None:
        if name not in known:
            raise KeyError(f"{role} {name!r} is not a variant of this router; variants: {sorted(known)}.")

    strategy = clean["strategy"]
    if strategy in ("single", "blue-green"):
        need(clean.get("live"), "live")
    elif strategy == "shadow":
        need(clean.get("primary"), "primary")
        need(clean.get("shadow"), "shadow")
        if clean["primary"] == clean["shadow"]:
            raise ValueError("A shadow policy mirrors to a different variant than the primary.")
    else:
        weights = clean.get("weights")
        if not isinstance(weights, Mapping) or not weights:
            raise ValueError(f"A {strategy} policy needs 'weights', e.g. {{'champion': 95, 'candidate': 5}}.")
        for name, weight in weights.items():
            need(name, "weight for")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 100:
                raise ValueError(f"Weights are percentages from 0 to 100; {name!r} has {weight!r}.")
        if abs(sum(weights.values()) - 100) > 1e-9:
            raise ValueError(f"Weights must add up to 100 (per cent); these add up to {sum(weights.values())}.")
        clean["weights"] = {str(k): float(v) for k, v in weights.items()}
        clean["salt"] = str(clean.get("salt", strategy))
    return clean


def choose(policy: Mapping[str, Any], user: str | None, seq: int) -> tuple[str, str | None]:
    """Return ``(variant that answers, variant that shadows or None)`` for one request.

    Introduced in 08-deployment-strategies.
    """
    strategy = policy["strategy"]
    if strategy in ("single", "blue-green"):
        return policy["live"], None
    if strategy == "shadow":
        return policy["primary"], policy["shadow"]
    point, cumulative = bucket(user or f"anonymous-{seq}", policy["salt"]), 0.0
    names = list(policy["weights"])
    for name in names:
        cumulative += policy["weights"][name]
        if point < cumulative:
            return name, None
    return names[-1], None


def _frame(body: Mapping[str, Any]) -> pd.DataFrame:
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        return pd.DataFrame(split.get("data", []), columns=split.get("columns"))
    if "dataframe_records" in body:
        return pd.DataFrame.from_records(body["dataframe_records"])
    raise ValueError(f"The body needs 'dataframe_split' or 'dataframe_records'; it has keys {sorted(body)}.")


def _plain(values: Any) -> list:
    values = values.tolist() if hasattr(values, "tolist") else list(values)
    return [v.item() if hasattr(v, "item") else v for v in values]


class Router:
    """Variants, the policy and the request log; independent of HTTP, so testable without a socket.

    ``variants`` maps a variant name to ``(model, model_version)``; a model is anything with
    ``predict(DataFrame)``. Introduced in 08-deployment-strategies.
    """

    def __init__(self, variants: Mapping[str, tuple[Any, str]], policy: Mapping[str, Any] | None = None,
                 log_path: str | Path | None = None):
        if not variants:
            raise ValueError("A Router needs at least one variant, e.g. {'champion': (model, '3')}.")
        self.variants = {str(k): (m, str(v)) for k, (m, v) in variants.items()}
        self.policy = validate_policy(policy or {"strategy": "single", "live": next(iter(self.variants))},
                                      self.variants)
        self.log: list[dict] = []
        self.log_path = Path(log_path) if log_path else None
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.write_text("")
        self._lock, self._seq, self._pending = threading.Lock(), 0, 0
        self._shadows = ThreadPoolExecutor(max_workers=2)

    def set_policy(self, policy: Mapping[str, Any]) -> dict:
        """Validate ``policy`` and swap it in atomically; return it."""
        clean = validate_policy(policy, self.variants)
        with self._lock:
            self.policy = clean
        return clean

    def set_variant(self, name: str, model: Any, version: str) -> None:
        """Bind ``name`` to a (new) model version; requests already running finish on the old one."""
        with self._lock:
            self.variants = {**self.variants, str(name): (model, str(version))}

    @staticmethod
    def _score(model: Any, frame: pd.DataFrame) -> tuple[list, float]:
        start = time.perf_counter()
        predictions = _plain(model.predict(frame))
        return predictions, (time.perf_counter() - start) * 1000

    def handle(self, body: Mapping[str, Any], user: str | None = None, *, direct: str | None = None) -> tuple[int, dict]:
        """Answer one request: ``(status, payload)``; logs it (a shadow's answer is logged when ready)."""
        started = time.perf_counter()
        if direct is not None and direct not in self.variants:
            return 404, {"error_code": "NOT_FOUND", "message": f"No variant {direct!r}; variants: {sorted(self.variants)}."}
        with self._lock:
            self._seq += 1
            seq, policy, variants = self._seq, self.policy, self.variants
        variant, shadow = (direct, None) if direct else choose(policy, user, seq)
        model, version = variants[variant]
        record = {"seq": seq, "time": time.time(), "user": user, "strategy": "direct" if direct else policy["strategy"],
                  "variant": variant, "model_version": version}
        try:
            frame = _frame(body)
            predictions, _ = self._score(model, frame)
            status, payload = 200, {"predictions": predictions, "variant": variant, "model_version": version}
        except Exception as error:  # noqa: BLE001 - a bad request or a failing model, reported to the caller
            frame, predictions = None, None
            client_side = isinstance(error, (ValueError, KeyError, TypeError)) or "MlflowException" in type(error).__name__
            status = 400 if client_side else 500
            payload = {"error_code": "BAD_REQUEST" if status == 400 else "INTERNAL_ERROR", "message": str(error)[:500]}
            record["error"] = payload["message"]
        record.update(status=status, latency_ms=(time.perf_counter() - started) * 1000,
                      prediction=predictions[0] if predictions and len(predictions) == 1 else predictions)
        if shadow is not None and frame is not None:
            with self._lock:
                self._pending += 1
            self._shadows.submit(self._mirror, record, shadow, variants[shadow], frame)
        else:
            self._append(record)
        return status, payload

    def _mirror(self, record: dict, shadow: str, bound: tuple[Any, str], frame: pd.DataFrame) -> None:
        record.update(shadow_variant=shadow, shadow_model_version=bound[1])
        try:
            predictions, latency = self._score(bound[0], frame)
            record.update(shadow_prediction=predictions[0] if len(predictions) == 1 else predictions,
                          shadow_latency_ms=latency)
        except Exception as error:  # noqa: BLE001 - the shadow's failure never reaches the user
            record["shadow_error"] = str(error)[:300]
        finally:
            self._append(record)
            with self._lock:
                self._pending -= 1

    def _append(self, record: dict) -> None:
        with self._lock:
            self.log.append(record)
            if self.log_path:
                with open(self.log_path, "a") as handle:
                    handle.write(json.dumps(record) + "\n")

    def records(self, since: int = 0, wait: float = 2.0) -> list[dict]:
        """Log records with ``seq > since``, by seq, once pending shadow calls are done (up to ``wait`` s)."""
        deadline = time.monotonic() + wait
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            return sorted((r for r in self.log if r["seq"] > since), key=lambda r: r["seq"])

    @property
    def last_seq(self) -> int:
        """The sequence number of the latest request (0 before the first)."""
        return self._seq

    def describe(self) -> dict:
        """The variants, each with its model version and the requests it answered."""
        with self._lock:
            counts = {name: sum(r["variant"] == name for r in self.log) for name in self.variants}
            return {name: {"model_version": v, "requests": counts[name]} for name, (_, v) in self.variants.items()}


def _handler(router: Router, load: Callable[[str], tuple[Any, str]]) -> type[BaseHTTPRequestHandler]:
    class Handler(JSONHandler):
        def do_GET(self) -> None:  # noqa: N802
            url = urlparse(self.path)
            if url.path in ("/ping", "/health"):
                self._send(200, "ok")
            elif url.path == "/policy":
                self._send(200, router.policy)
            elif url.path == "/variants":
                self._send(200, router.describe())
            elif url.path == "/log":
                since = int(parse_qs(url.query).get("since", ["0"])[0])
                records = router.records(since)
                self._send(200, {"records": records, "last_seq": router.last_seq})
            else:
                self._send(404, {"error_code": "NOT_FOUND", "message": f"No route {url.path}."})

        def do_PUT(self) -> None:  # noqa: N802
            try:
                body = self._body()
                if self.path == "/policy":
                    self._send(200, router.set_policy(body))
                elif self.path.startswith("/variants/"):
                    name = self.path.removeprefix("/variants/")
                    model, version = load(str(body.get("model")))
                    router.set_variant(name, model, version)
                    self._send(200, router.describe()[name])
                else:
                    self._send(404, {"error_code": "NOT_FOUND", "message": f"No route {self.path}."})
            except Exception as error:  # noqa: BLE001 - a refused change leaves the router as it was
                self._send(400, {"error_code": "BAD_REQUEST", "message": str(error).strip("\"'")[:500]})

        def do_POST(self) -> None:  # noqa: N802
            direct = None
            if self.path.startswith("/variants/") and self.path.endswith("/invocations"):
                direct = self.path[len("/variants/"):-len("/invocations")]
            elif self.path != "/invocations":
                self._send(404, {"error_code": "NOT_FOUND", "message": f"No route {self.path}."})
                return
            try:
                body = self._body()
            except ValueError as error:
                self._send(400, {"error_code": "BAD_REQUEST", "message": f"Body is not JSON: {error}"})
                return
            self._send(*router.handle(body, self.headers.get("X-User-Id"), direct=direct))

    return Handler


def _loader(spec: str) -> tuple[Any, str]:
    """Load ``name/3``, ``models:/name/3`` or ``models:/name@alias``; return (pyfunc model, version)."""
    import mlflow.pyfunc
    from mlflow import MlflowClient

    path = spec.removeprefix("models:/")
    if "@" in path:
        name, alias = path.rsplit("@", 1)
        version = str(MlflowClient().get_model_version_by_alias(name, alias).version)
    else:
        name, sep, version = path.rpartition("/")
        if not sep or not version.isdigit():
            raise ValueError(f"A model is 'name/3', 'models:/name/3' or 'models:/name@alias'; got {spec!r}.")
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}"), version



def serve(argv: list[str] | None = None) -> None:
    """Command line: load the variants, then route on 127.0.0.1 until stopped.

    Introduced in 08-deployment-strategies.
    """
    parser = argparse.ArgumentParser(description="Route requests between model versions by a release policy.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--variant", action="append", required=True, help="name=model, e.g. champion=churn/3")
    parser.add_argument("--policy", default=None, help="JSON policy (default: all traffic to the first variant)")
    parser.add_argument("--log", default=None, help="JSON-lines request log")
    args = parser.parse_args(argv)

    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    variants = {}
    for item in args.variant:
        name, _, spec = item.partition("=")
        variants[name] = _loader(spec)
    router = Router(variants, json.loads(args.policy) if args.policy else None, args.log)
    serve_http(_handler(router, _loader), args.port,
               f"routing {router.describe()} with {router.policy} on http://127.0.0.1:{args.port}")
