"""Security for ML artifacts and endpoints: signatures, secrets, and a token-protected service.

* :func:`sign_file` / :func:`verify_file`: an HMAC-SHA256 signature of a file with a secret
  key. A plain SHA-256 proves a file did not change by accident; anyone can recompute it
  for a file they swapped. An HMAC needs the key, so only its holders can sign;
* :func:`get_secret` reads a secret from the environment (never from a notebook, a config
  file in git or the tracking store) and :func:`ensure_dev_secret` creates a throw-away one
  for a local session; :func:`find_secret` lists the files under a folder that contain it;
* a small prediction service that requires ``Authorization: Bearer <token>`` and validates
  every input before scoring (401 without a valid token, 422 for an invalid record, 413 for a
  body too large). Start it with :func:`serve_protected`, or::

      python -m course_lib.security --port 8080 --model model.json --token-env CHURN_API_TOKEN

  The token is read from the environment variable named by ``--token-env``, never from the
  command line, which any user of the machine can read with ``ps``.

Nothing happens at import.

Introduced in 10-governance.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import math
import os
import secrets
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Sequence

from course_lib.servers import JSONHandler, serve_http

__all__ = ["sign_file", "verify_file", "get_secret", "ensure_dev_secret", "find_secret", "validate_record",
           "serve_protected", "main"]

MAX_BODY_BYTES = 64_000
MAX_RECORDS = 100
_RANGES = {"tenure_months": (0, 600), "monthly_charges": (0, 1_000), "total_charges": (0, 1_000_000),
           "data_usage_gb": (0, 2_000), "support_calls": (0, 100), "late_payments": (0, 6), "age": (18, 120)}


def _key_bytes(key: str | bytes) -> bytes:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes) or len(key) < 16:
        raise ValueError("An HMAC key must be a secret of at least 16 bytes (read it with get_secret()).")
    return key


def sign_file(path: str | Path, key: str | bytes) -> str:
    """Return the HMAC-SHA256 (hex) of a file's bytes under ``key``.

    Raises:
        FileNotFoundError: if there is no such file.
        ValueError: if the key is shorter than 16 bytes.

    Introduced in 10-governance.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No file to sign at {path}.")
    mac = hmac.new(_key_bytes(key), digestmod=hashlib.sha256)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            mac.update(block)
    return mac.hexdigest()


def verify_file(path: str | Path, signature: str, key: str | bytes) -> bool:
    """True when ``signature`` is the HMAC-SHA256 of the file under ``key`` (compared in constant time).

    Introduced in 10-governance.
    """
    if not isinstance(signature, str):
        return False
    return hmac.compare_digest(sign_file(path, key), signature.strip().lower())


def get_secret(name: str) -> str:
    """Return the secret held in the environment variable ``name``.

    Raises:
        KeyError: if it is not set (the message says how to set it, never a value).

    Introduced in 10-governance.
    """
    value = os.environ.get(name, "")
    if not value:
        raise KeyError(f"The secret {name!r} is not set. Set the environment variable before starting Jupyter "
                       f"(export {name}=...), or from your secret manager; never write it in a notebook.")
    return value


def ensure_dev_secret(name: str, nbytes: int = 32) -> bool:
    """Create a random secret in the environment variable ``name`` if it is not set; True if created.

    For a local session only: the value lives in this process (and the servers it starts) and
    is never printed. In production the platform's secret manager sets it.

    Introduced in 10-governance.
    """
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"A secret's name is an environment variable name such as 'CHURN_API_TOKEN', got {name!r}.")
    if os.environ.get(name):
        return False
    os.environ[name] = secrets.token_urlsafe(nbytes)
    return True


def find_secret(secret: str, folder: str | Path, *, max_bytes: int = 200_000_000) -> list[Path]:
    """List the files under ``folder`` whose bytes contain ``secret`` (e.g. a leaked token in ``mlflow.db``).

    Introduced in 10-governance.
    """
    if not secret or len(secret) < 8:
        raise ValueError("Give the secret's value (at least 8 characters) to look for.")
    folder, needle = Path(folder), secret.encode("utf-8")
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder {folder}.")
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            if path.stat().st_size <= max_bytes and needle in path.read_bytes():
                found.append(path)
        except OSError:
            continue
    return found


def validate_record(record: Any, categories: dict[str, Sequence[str]]) -> list[str]:
    """Return what is wrong with one input record (empty when it is valid).

    A valid record has exactly the churn model's features: numbers (not booleans, finite,
    within a plausible range) for the numeric ones, and a known category for the others.

    Introduced in 10-governance.
    """
    if not isinstance(record, dict):
        return [f"a record must be a JSON object, not {type(record).__name__}"]
    expected = set(_RANGES) | set(categories)
    problems = [f"missing field {f!r}" for f in sorted(expected - set(record))]
    problems += [f"unexpected field {f!r}" for f in sorted(set(record) - expected)]
    for name, (low, high) in _RANGES.items():
        value = record.get(name)
        if name not in record:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"{name} must be a number, got {value!r}")
        elif not low <= value <= high:
            problems.append(f"{name}={value} is outside [{low}, {high}]")
    for name, allowed in categories.items():
        if name in record and record[name] not in allowed:
            problems.append(f"{name}={record[name]!r} is not one of {list(allowed)}")
    return problems


def _handler(model: Any, token_env: str) -> type[BaseHTTPRequestHandler]:
    categories = {name: list(weights) for name, weights in model.exported["categorical"].items()}

    class Handler(JSONHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: a refused body is never left unread

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/health":
                return self._send(200, {"status": "ok"})
            return self._send(404, {"error": "try GET /health or POST /predict"})

        def do_POST(self) -> None:  # noqa: N802
            if self.path.split("?")[0] != "/predict":
                return self._send(404, {"error": "try POST /predict"})
            expected = "Bearer " + os.environ.get(token_env, "")
            given = self.headers.get("Authorization", "")
            if not os.environ.get(token_env) or not hmac.compare_digest(given.encode(), expected.encode()):
                return self._send(401, {"error": "a valid 'Authorization: Bearer <token>' header is required"},
                                  {"WWW-Authenticate": "Bearer"})
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                return self._send(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"})
            if "application/json" not in self.headers.get("Content-Type", ""):
                return self._send(415, {"error": "send Content-Type: application/json"})
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except (json.JSONDecodeError, UnicodeDecodeError):
                return self._send(400, {"error": "the body is not valid JSON"})
            records = body.get("records") if isinstance(body, dict) else None
            if not isinstance(records, list) or not 1 <= len(records) <= MAX_RECORDS:
                return self._send(422, {"error": f"send {{'records': [...]}} with 1 to {MAX_RECORDS} records"})
            problems = {i: p for i, r in enumerate(records) if (p := validate_record(r, categories))}
            if problems:
                return self._send(422, {"error": "invalid records", "problems": problems})
            return self._send(200, {"churn_probability": [model.score(r) for r in records]})

        def log_message(self, format: str, *args: Any) -> None:
            print(f"{self.address_string()} {format % args}", flush=True)

    return Handler


def serve_protected(model_path: str | Path, ws: Any, *, token_env: str, name: str = "protected-model",
                    timeout: float = 30.0) -> Any:
    """Start the token-protected service for an exported linear model; return the running Server.

    The token is passed to the server through the environment variable ``token_env``, which must
    be set in this process (see :func:`ensure_dev_secret`).

    Introduced in 10-governance.
    """
    from course_lib.servers import start_server

    get_secret(token_env)  # fail here, clearly, rather than start a server nobody can call
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"No exported model at {model_path} (write one with services.export_linear_model).")
    command = [sys.executable, "-m", "course_lib.security", "--port", "{port}", "--model", str(model_path),
               "--token-env", token_env]
    return start_server(name, command, log_dir=ws.subdir("servers"), ready_path="/health", timeout=timeout)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the token-protected prediction service (see the module docstring).

    Introduced in 10-governance.
    """
    from course_lib.services import LinearChurnModel

    parser = argparse.ArgumentParser(prog="python -m course_lib.security")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True, help="JSON file written from services.export_linear_model()")
    parser.add_argument("--token-env", required=True, help="name of the environment variable holding the token")
    args = parser.parse_args(argv)
    if not os.environ.get(args.token_env):
        print(f"refusing to start: the environment variable {args.token_env} is not set", file=sys.stderr)
        return 2
    model = LinearChurnModel.load(args.model)
    return serve_http(_handler(model, args.token_env), args.port,
                      f"protected model service listening on http://127.0.0.1:{args.port}")


if __name__ == "__main__":
    sys.exit(main())
