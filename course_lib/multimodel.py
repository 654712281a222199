"""Several registered models served from one process, routed by name and version.

One ``mlflow models serve`` holds one model and costs about half a gigabyte, so a
machine with 2 GB (Binder) cannot serve a champion and a challenger side by side
that way. This module loads N registered versions into ONE small HTTP server
(the standard library's ``ThreadingHTTPServer``, no framework) and routes each
request by the path::

    GET  /ping                                         -> 200 "ok" once every model is loaded
    GET  /models                                       -> the models, versions and request counts
    POST /models/<name>/versions/<version>/invocations -> {"predictions": [...]}

The request body is MLflow's own format (``{"dataframe_split": ...}`` or
``{"dataframe_records": ...}``) and the model's signature is enforced by
``mlflow.pyfunc``, exactly as ``mlflow models serve`` does. Start it with
:func:`serve_models` (it goes through :mod:`course_lib.servers`, so it is
supervised, bound to 127.0.0.1 and cleaned up); run it by hand with
``python -m course_lib.multimodel --port 5000 --model churn/1 --model churn/2``.

Introduced in 07-serving.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterable, Mapping

from course_lib.servers import JSONHandler, serve_http

__all__ = ["ModelRouter", "parse_model_spec", "serve_models", "main"]

_PREFIX = "/models/"
_SUFFIX = "/invocations"


def parse_model_spec(spec: str) -> tuple[str, str]:
    """Split ``"name/version"`` into ``(name, version)``; the version must be a number.

    >>> parse_model_spec("churn/3")
    ('churn', '3')

    Introduced in 07-serving.
    """
    name, sep, version = str(spec).rpartition("/")
    if not sep or not name or not version.isdigit():
        raise ValueError(f"A model is given as 'name/version' with a numeric version, e.g. 'churn/3'; got {spec!r}.")
    return name, version


class ModelRouter:
    """Models keyed by ``(name, version)`` and the logic that routes a request to one of them.

    ``models`` maps ``(name, version)`` to anything with a ``predict(DataFrame)``
    method (an MLflow pyfunc model in the server). The router is independent of
    HTTP, so it can be tested without a socket.

    Introduced in 07-serving.
    """

    def __init__(self, models: Mapping[tuple[str, str], Any]):
        if not models:
            raise ValueError("A ModelRouter needs at least one (name, version) -> model entry.")
        self.models = {(str(n), str(v)): m for (n, v), m in models.items()}
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def route(self, path: str) -> tuple[str, str]:
        """Return ``(name, version)`` for ``/models/<name>/versions/<version>/invocations``.

        Raises ``KeyError`` (naming the models served) when the path names no served model,
        ``ValueError`` when the path does not have that shape.
        """
        if not (path.startswith(_PREFIX) and path.endswith(_SUFFIX)):
            raise ValueError(f"Expected a path like /models/<name>/versions/<version>/invocations, got {path!r}.")
        name, sep, version = path[len(_PREFIX):-len(_SUFFIX)].rpartition("/versions/")
        if not sep or (name, version) not in self.models:
            raise KeyError(f"No model {name!r} version {version!r} here; served: {self.catalogue()['models']}.")
        return name, version

    def predict(self, name: str, version: str, body: Mapping[str, Any]) -> list:
        """Score an MLflow-style JSON body with one model and count the request."""
        import pandas as pd

        if "dataframe_split" in body:
            split = body["dataframe_split"]
            frame = pd.DataFrame(split.get("data", []), columns=split.get("columns"))
        elif "dataframe_records" in body:
            frame = pd.DataFrame.from_records(body["dataframe_records"])
        else:
            raise ValueError(f"The body needs 'dataframe_split' or 'dataframe_records'; it has keys {sorted(body)}.")
        predictions = self.models[(name, version)].predict(frame)
        with self._lock:
            self.requests[f"{name}/{version}"] += 1
        values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
        return values

    def catalogue(self) -> dict:
        """The served models (``"name/version"``) and how many requests each has answered."""
        with self._lock:
            return {"models": sorted(f"{n}/{v}" for n, v in self.models),
                    "requests": {f"{n}/{v}": self.requests[f"{n}/{v}"] for n, v in sorted(self.models)}}


def _handler(router: ModelRouter) -> type[BaseHTTPRequestHandler]:
    class Handler(JSONHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path in ("/ping", "/health"):
                self._send(200, "ok")
            elif self.path == "/models":
                self._send(200, router.catalogue())
            else:
                self._send(404, {"error_code": "NOT_FOUND", "message": f"No route {self.path}."})

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                name, version = router.route(self.path)
            except (KeyError, ValueError) as error:
                self._send(404, {"error_code": "NOT_FOUND", "message": str(error).strip("\"'")})
                return
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                self._send(415, {"error_code": "BAD_REQUEST", "message": "Send Content-Type: application/json."})
                return
            try:
                predictions = router.predict(name, version, json.loads(body))
            except Exception as error:  # bad JSON, missing column, wrong type: the client's fault
                self._send(400, {"error_code": "BAD_REQUEST", "message": str(error)})
                return
            self._send(200, {"predictions": predictions})

    return Handler


def serve_models(models: Iterable[str], ws, *, name: str = "multimodel", timeout: float = 90.0):
    """Start one server holding every ``"name/version"`` in ``models`` and wait until it answers.

    Args:
        models: registered versions, e.g. ``["churn/3", "churn/4"]`` (qualified names).
        ws: the workspace; its tracking store is where the versions are read from.
        name: the server's name in :mod:`course_lib.servers` (starting it again replaces it).
        timeout: seconds to wait for every model to load.

    Returns:
        The running :class:`course_lib.servers.Server`.

    Introduced in 07-serving.
    """
    import sys

    from course_lib.servers import start_server

    specs = [spec for spec in models]
    if not specs:
        raise ValueError("serve_models needs at least one 'name/version'.")
    command = [sys.executable, "-m", "course_lib.multimodel", "--port", "{port}"]
    for spec in specs:
        parse_model_spec(spec)
        command += ["--model", spec]
    env = {"MLFLOW_TRACKING_URI": ws.tracking_uri, "MLFLOW_REGISTRY_URI": ws.tracking_uri}
    return start_server(name, command, log_dir=ws.subdir("servers"), ready_path="/ping", timeout=timeout, env=env)


def main(argv: list[str] | None = None) -> None:
    """Command line: load the models, then serve on 127.0.0.1 until stopped.

    Introduced in 07-serving.
    """
    parser = argparse.ArgumentParser(description="Serve several registered MLflow model versions from one process.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", action="append", required=True, help="name/version, repeatable")
    args = parser.parse_args(argv)

    import logging

    import mlflow.pyfunc

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    keys = [parse_model_spec(spec) for spec in args.model]
    router = ModelRouter({key: mlflow.pyfunc.load_model(f"models:/{key[0]}/{key[1]}") for key in keys})
    serve_http(_handler(router), args.port, f"serving {router.catalogue()['models']} on http://127.0.0.1:{args.port}")


if __name__ == "__main__":
    main()
