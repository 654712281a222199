"""The MLflow UI launcher, reached the way a learner reaches it: through JupyterLab's proxy at /mlflow/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow

SEED_STORE = """
import sys
import mlflow
from course_lib.workspace import open_workspace
ws = open_workspace("00-foundations", root=sys.argv[1])
ws.experiment("seen-through-the-proxy")
with mlflow.start_run(run_name="proxy-run"):
    mlflow.log_metric("auc", 0.8125)
"""
HUB_HOST = "hub.example.org"  # what the browser's Host header is on Binder or JupyterHub


def _seed(workspace) -> None:
    subprocess.run([sys.executable, "-c", SEED_STORE, str(workspace)], check=True, capture_output=True, timeout=120)


def test_mlflow_ui_behind_the_jupyter_proxy(course, lab_factory):
    workspace = course / "notebooks" / "00-foundations" / "workspace"
    _seed(workspace)
    lab = lab_factory(course, any_host=True)
    if os.environ.get("CI", "").lower() == "true":
        assert lab.proxy_from == "entry point", "pip install -e . did not register the launcher's entry point"

    status, body = lab.get("/server-proxy/servers-info")
    assert status == 200, body
    titles = {s["name"]: s["launcher_entry"]["title"] for s in json.loads(body)["server_processes"]}
    assert titles.get("mlflow") == "MLflow UI", f"no MLflow UI launcher tile: {titles}"

    started = time.monotonic()
    status, page = lab.get("/mlflow/", timeout=150, headers={"Host": HUB_HOST})
    first_response = time.monotonic() - started
    assert status == 200, f"/mlflow/ answered {status}: {page[:500]}\n{lab.log_tail()}"
    assert "<title>MLflow</title>" in page, page[:500]
    assert 'src="/static-files' not in page, "asset links are absolute: they would miss the /mlflow/ prefix"

    # The UI's own API calls: relative to the page, so they go through the proxy too (POST needs CORS open).
    search = json.dumps({"max_results": 100}).encode()
    status, body = lab.get("/mlflow/ajax-api/2.0/mlflow/experiments/search", data=search, headers={
        "Content-Type": "application/json", "Host": HUB_HOST, "Origin": f"https://{HUB_HOST}"})
    assert status == 200, f"experiments/search through the proxy answered {status}: {body[:500]}"
    experiments = {e["name"]: e["experiment_id"] for e in json.loads(body)["experiments"]}
    assert "seen-through-the-proxy" in experiments, f"the store's experiment is not there: {sorted(experiments)}"

    runs_query = json.dumps({"experiment_ids": [experiments["seen-through-the-proxy"]]}).encode()
    status, body = lab.get("/mlflow/ajax-api/2.0/mlflow/runs/search", data=runs_query, headers={
        "Content-Type": "application/json", "Host": HUB_HOST, "Origin": f"https://{HUB_HOST}"})
    assert status == 200, body[:500]
    metrics = [m for r in json.loads(body)["runs"] for m in r["data"].get("metrics", [])]
    assert {"key": "auc", "value": 0.8125} in [{"key": m["key"], "value": m["value"]} for m in metrics], metrics
    print(f"\nMLflow UI through the proxy ({lab.proxy_from}): first response after {first_response:.1f} s")


def test_launcher_explains_instead_of_starting_a_second_server(course, lab_factory):
    lab = lab_factory(course, env={"MLFLOW_TRACKING_URI": "http://tracking.example.org:5000"})
    status, page = lab.get("/mlflow/", timeout=60)
    assert status == 200, page[:500]
    assert "http://tracking.example.org:5000" in page and "MLFLOW_TRACKING_URI" in page, page[:500]
    assert not (course / "notebooks" / "00-foundations" / "workspace").exists(), "a local store was created"
