"""Model and deployment artifacts: look inside them, hash them, refuse tampered ones.

A *model artifact* is the folder MLflow writes for a model (``MLmodel``, the serialized
model, its signature, an input example and its environment files). A *deployment
artifact* adds what serving needs — configuration, a Dockerfile — and a manifest of
SHA-256 hashes, so whoever deploys it can prove that nothing changed on the way:

* :func:`list_files` shows a folder's files with their sizes and hashes;
* :func:`write_manifest` records every file's hash in ``MANIFEST.json``;
* :func:`verify_manifest` lists what no longer matches (changed, missing, unexpected);
* :func:`generate_dockerfile` runs ``mlflow models generate-dockerfile`` (no Docker engine
  needed) for a model URI of the current tracking store.

Nothing happens at import.

Introduced in 05-registry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from course_lib.lake import sha256_file  # the content address of a file, as in the data lake

__all__ = ["MANIFEST", "sha256_file", "list_files", "write_manifest", "verify_manifest", "generate_dockerfile"]

MANIFEST = "MANIFEST.json"


def _files(folder: Path) -> list[str]:
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder {folder}.")
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def list_files(folder: str | Path) -> pd.DataFrame:
    """Return the files under ``folder`` as a DataFrame: ``file`` (relative path), ``bytes``, ``sha256``.

    Introduced in 05-registry.
    """
    folder = Path(folder)
    rows = [{"file": f, "bytes": (folder / f).stat().st_size, "sha256": sha256_file(folder / f)}
            for f in _files(folder)]
    return pd.DataFrame(rows, columns=["file", "bytes", "sha256"])


def write_manifest(folder: str | Path, **metadata: str) -> Path:
    """Write ``folder/MANIFEST.json``: the SHA-256 of every file in it, plus ``metadata``.

    Any earlier manifest is replaced. Returns the manifest's path.

    Introduced in 05-registry.
    """
    folder = Path(folder)
    files = {f: sha256_file(folder / f) for f in _files(folder) if f != MANIFEST}
    if not files:
        raise ValueError(f"{folder} holds no files: there is nothing to package.")
    path = folder / MANIFEST
    path.write_text(json.dumps({"algorithm": "sha256", "metadata": metadata, "files": files}, indent=2) + "\n")
    return path


def verify_manifest(folder: str | Path) -> list[str]:
    """Compare a folder with its ``MANIFEST.json``; return the problems found (empty when intact).

    Each problem is one sentence naming the file: ``changed: serving.json``,
    ``missing: model_dir/MLmodel``, ``unexpected: model_dir/extra.py``.

    Raises:
        FileNotFoundError: if the folder has no manifest.

    Introduced in 05-registry.
    """
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no {MANIFEST}: it is not a packaged deployment artifact.")
    recorded = json.loads(path.read_text())["files"]
    present = set(_files(folder)) - {MANIFEST}
    problems = [f"missing: {f}" for f in sorted(set(recorded) - present)]
    problems += [f"changed: {f}" for f in sorted(set(recorded) & present) if sha256_file(folder / f) != recorded[f]]
    problems += [f"unexpected: {f}" for f in sorted(present - set(recorded))]
    return problems


def generate_dockerfile(model_uri: str, out_dir: str | Path, *, timeout: float = 120) -> tuple[Path, float]:
    """Run ``mlflow models generate-dockerfile -m URI -d OUT --env-manager local``.

    The command copies the model into ``OUT/model_dir`` and writes ``OUT/Dockerfile``; it needs
    no Docker engine and no network (building the image later does). It runs in a subprocess
    against the current tracking store; its log is captured, not printed.

    Returns:
        The Dockerfile's path and the seconds the command took.

    Raises:
        RuntimeError: with the command's output, if it fails.

    Introduced in 05-registry.
    """
    import mlflow

    out_dir = Path(out_dir)
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
           "MLFLOW_REGISTRY_URI": mlflow.get_registry_uri(), "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [sys.executable, "-m", "mlflow", "models", "generate-dockerfile",
               "-m", model_uri, "-d", str(out_dir), "--env-manager", "local"]
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    took = time.perf_counter() - start
    if result.returncode != 0 or not (out_dir / "Dockerfile").is_file():
        raise RuntimeError(f"generate-dockerfile failed for {model_uri}:\n{result.stderr[-2000:]}")
    return out_dir / "Dockerfile", took
