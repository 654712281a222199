"""Two small microservices: a feature service and a model service that talk HTTP.

* The **feature service** holds one month of the churn snapshot and answers
  ``GET /features/<customer_id>`` with that customer's features.
* The **model service** answers ``GET /predict/<customer_id>``: it asks the feature
  service for the customer's features over HTTP, then scores them.

Each is its own process, with its own version (``GET /version``) and health route
(``GET /health``), so each can be restarted and upgraded without the other. The
model service finds the feature service through a *service registry*, a small JSON
file ``{"feature-service": "http://127.0.0.1:PORT"}`` it reads on every request —
what a Kubernetes Service name or DNS does in a cluster.

Both are kept light (standard library only, about 20 MB each): the model service
does not import scikit-learn but scores a logistic-regression pipeline exported to
JSON by :func:`export_linear_model` (the way a model is exported to ONNX or PMML for
a lean runtime). Start them with :func:`course_lib.servers.start_server`::

    python -m course_lib.services feature --port 8001 --month 2026-06 --version 1.0.0
    python -m course_lib.services model --port 8002 --model model.json --registry services.json

Introduced in 06-cicd.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from course_lib.servers import serve_http

__all__ = ["export_linear_model", "LinearChurnModel", "write_registry", "read_registry", "main"]

_NUMERIC = ["tenure_months", "monthly_charges", "total_charges", "data_usage_gb", "support_calls", "late_payments", "age"]


def export_linear_model(pipeline: Any) -> dict:
    """Export a fitted ``Pipeline([("preprocess", ColumnTransformer), ("classifier", LogisticRegression)])`` to a dict.

    The ColumnTransformer must hold a ``StandardScaler`` named ``"numeric"`` and a
    ``OneHotEncoder`` named ``"categorical"`` (the course's churn model). The dict is
    JSON-serialisable and scored by :class:`LinearChurnModel` without scikit-learn.

    Introduced in 06-cicd.
    """
    try:
        preprocess = pipeline.named_steps["preprocess"]
        classifier = pipeline.named_steps["classifier"]
        scaler = preprocess.named_transformers_["numeric"]
        encoder = preprocess.named_transformers_["categorical"]
    except (AttributeError, KeyError) as error:
        raise ValueError("Expected a fitted Pipeline with steps 'preprocess' (a ColumnTransformer with 'numeric' and "
                         f"'categorical' parts) and 'classifier': {error!r}") from error
    columns = {name: list(cols) for name, _, cols in preprocess.transformers_ if name in ("numeric", "categorical")}
    weights = [float(w) for w in classifier.coef_[0]]
    numeric = {}
    for i, name in enumerate(columns["numeric"]):
        numeric[name] = {"mean": float(scaler.mean_[i]), "scale": float(scaler.scale_[i]), "weight": weights[i]}
    categorical, k = {}, len(columns["numeric"])
    for name, values in zip(columns["categorical"], encoder.categories_):
        categorical[name] = {str(v): weights[k + j] for j, v in enumerate(values)}
        k += len(values)
    return {"kind": "logistic-v1", "intercept": float(classifier.intercept_[0]), "numeric": numeric, "categorical": categorical}


class LinearChurnModel:
    """A logistic-regression churn model scored in plain Python (see :func:`export_linear_model`).

    Introduced in 06-cicd.
    """

    def __init__(self, exported: Mapping[str, Any]):
        if not isinstance(exported, Mapping) or exported.get("kind") != "logistic-v1":
            raise ValueError("Not an exported model: expected a dict from export_linear_model() with kind 'logistic-v1'.")
        self.exported = dict(exported)

    @classmethod
    def load(cls, path: str | Path) -> "LinearChurnModel":
        """Load a model saved as JSON."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"No exported model at {path}.")
        return cls(json.loads(path.read_text()))

    @property
    def features(self) -> list[str]:
        """The input columns the model needs."""
        return [*self.exported["numeric"], *self.exported["categorical"]]

    def score(self, record: Mapping[str, Any]) -> float:
        """The churn probability of one customer (a mapping of feature name to value)."""
        missing = [f for f in self.features if f not in record]
        if missing:
            raise KeyError(f"The record lacks the features {missing}; the model needs {self.features}.")
        z = self.exported["intercept"]
        for name, p in self.exported["numeric"].items():
            z += p["weight"] * (float(record[name]) - p["mean"]) / p["scale"]
        for name, weights in self.exported["categorical"].items():
            z += weights.get(str(record[name]), 0.0)  # unknown category: ignored, like handle_unknown="ignore"
        return 1.0 / (1.0 + math.exp(-z))

    def predict_proba(self, records: Sequence[Mapping[str, Any]]) -> list[float]:
        """Churn probabilities of several customers (a list of mappings, or ``frame.to_dict("records")``)."""
        return [self.score(r) for r in records]


def write_registry(path: str | Path, services: Mapping[str, str]) -> Path:
    """Write the service registry ``{name: base_url}`` (replacing the file atomically).

    Introduced in 06-cicd.
    """
    if not all(isinstance(v, str) and v.startswith("http") for v in services.values()):
        raise ValueError(f"Every service needs a base URL such as 'http://127.0.0.1:8001', got {dict(services)!r}.")
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(services), indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def read_registry(path: str | Path) -> dict[str, str]:
    """Read the service registry (an empty dict when it does not exist yet).

    Introduced in 06-cicd.
    """
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


# --------------------------------------------------------------------------- the servers


def _handler(routes: Callable[[str], tuple[int, dict]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            try:
                status, body = routes(self.path)
            except Exception as error:  # a bug must answer 500, not kill the connection
                status, body = 500, {"error": f"{type(error).__name__}: {error}"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            print(f"{self.address_string()} {format % args}", flush=True)

    return Handler


def _load_month(month: str | None) -> tuple[str, dict[str, dict]]:
    from course_lib.paths import dataset_path

    rows: dict[str, dict[str, dict]] = {}
    with open(dataset_path("churn", "churn.csv"), newline="") as handle:
        for row in csv.DictReader(handle):
            rows.setdefault(row["snapshot_date"][:7], {})[row["customer_id"]] = row
    month = month or max(rows)
    if month not in rows:
        raise ValueError(f"Unknown month {month!r}; the data covers {min(rows)} to {max(rows)}.")
    keep = [*_NUMERIC, "contract", "plan", "payment_method", "region"]
    table = {cid: {k: (float(r[k]) if k in _NUMERIC else r[k]) for k in keep} for cid, r in rows[month].items()}
    return month, table


def _feature_routes(month: str | None, version: str) -> Callable[[str], tuple[int, dict]]:
    month, table = _load_month(month)

    def routes(path: str) -> tuple[int, dict]:
        if path == "/health":
            return 200, {"status": "ok"}
        if path == "/version":
            return 200, {"service": "feature-service", "version": version, "month": month}
        if path.startswith("/features/"):
            cid = path.removeprefix("/features/")
            if cid not in table:
                return 404, {"error": f"unknown customer {cid!r} in {month}"}
            return 200, {"customer_id": cid, "month": month, "features": table[cid], "service_version": version}
        return 404, {"error": f"no route {path}; try /health, /version, /features/<customer_id>"}

    return routes


def _model_routes(model_path: str, registry: str, version: str) -> Callable[[str], tuple[int, dict]]:
    model = LinearChurnModel.load(model_path)

    def routes(path: str) -> tuple[int, dict]:
        if path == "/health":
            return 200, {"status": "ok"}
        if path == "/version":
            return 200, {"service": "model-service", "version": version}
        if path.startswith("/predict/"):
            cid = path.removeprefix("/predict/")
            url = read_registry(registry).get("feature-service")
            if not url:
                return 503, {"error": "no 'feature-service' in the service registry"}
            try:
                with urllib.request.urlopen(f"{url}/features/{cid}", timeout=3) as response:
                    answer = json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, {"error": f"feature service answered {error.code} for {cid!r}"}
            except (urllib.error.URLError, OSError) as error:
                return 502, {"error": f"feature service at {url} unreachable: {error}"}
            return 200, {"customer_id": cid, "churn_probability": model.score(answer["features"]),
                         "model_version": version, "feature_service_version": answer.get("service_version")}
        return 404, {"error": f"no route {path}; try /health, /version, /predict/<customer_id>"}

    return routes


def main(argv: Sequence[str] | None = None) -> int:
    """Run a service: ``python -m course_lib.services {feature,model} --port N ...``.

    Introduced in 06-cicd.
    """
    parser = argparse.ArgumentParser(prog="python -m course_lib.services")
    sub = parser.add_subparsers(dest="service", required=True)
    feature = sub.add_parser("feature", help="serve one month's features per customer")
    feature.add_argument("--month", default=None, help="YYYY-MM (default: the latest)")
    model = sub.add_parser("model", help="score customers, fetching features from the feature service")
    model.add_argument("--model", required=True, help="JSON file written from export_linear_model()")
    model.add_argument("--registry", required=True, help="JSON service registry naming 'feature-service'")
    for p in (feature, model):
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--version", default="1.0.0")
    args = parser.parse_args(argv)
    if args.service == "feature":
        routes = _feature_routes(args.month, args.version)
    else:
        routes = _model_routes(args.model, args.registry, args.version)
    return serve_http(_handler(routes), args.port,
                      f"{args.service} service {args.version} listening on http://127.0.0.1:{args.port}")


if __name__ == "__main__":
    sys.exit(main())
