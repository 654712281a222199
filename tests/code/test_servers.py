import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from course_lib import servers

HTTP = [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]


def _group_alive(pgid: int) -> list[int]:
    return servers._group_members(pgid)


def test_start_answer_stop_leaves_nothing(tmp_path):
    server = servers.start_server("web", HTTP, log_dir=tmp_path)
    assert server.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(server.url + "/") as response:
        assert response.status == 200
    pgid = server.process.pid
    assert os.getpgid(pgid) == pgid != os.getpgid(0), "the server runs in its own process group"
    assert len(_group_alive(pgid)) == 2  # supervisor + server
    server.stop()
    server.stop()  # idempotent
    assert _group_alive(pgid) == []
    assert servers.running_servers() == []


def test_restarting_a_name_replaces_the_old_server(tmp_path):
    first = servers.start_server("web", HTTP, log_dir=tmp_path)
    second = servers.start_server("web", HTTP, log_dir=tmp_path)
    try:
        assert not first.running and second.running
        assert servers.running_servers() == [second]
    finally:
        servers.stop_all()


def test_exit_before_ready_shows_the_log(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        servers.start_server("bad", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], log_dir=tmp_path)


def test_not_ready_in_time_is_stopped(tmp_path):
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    with pytest.raises(TimeoutError, match="did not answer"):
        servers.start_server("slow", sleeper, log_dir=tmp_path, timeout=1.5)
    assert servers.running_servers() == []


def test_bad_arguments_are_clear(tmp_path):
    with pytest.raises(ValueError):
        servers.start_server("", HTTP, log_dir=tmp_path)
    with pytest.raises(ValueError):
        servers.start_server("x", [], log_dir=tmp_path)
    with pytest.raises(ValueError):
        servers.start_server("x", HTTP, log_dir=tmp_path, ready_path="health")


def test_server_dies_with_a_killed_kernel(tmp_path):
    """SIGKILL leaves no chance for atexit: the supervisor must notice and stop the group."""
    script = (
        "import json, sys, time\n"
        "from course_lib.servers import start_server\n"
        f"s = start_server('web', {HTTP!r}, log_dir={str(tmp_path)!r})\n"
        "print(json.dumps({'pgid': s.process.pid}), flush=True)\n"
        "time.sleep(60)\n"
    )
    kernel = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pgid = json.loads(kernel.stdout.readline())["pgid"]
    assert _group_alive(pgid)
    kernel.send_signal(signal.SIGKILL)
    kernel.wait()
    deadline = time.monotonic() + 10
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group_alive(pgid) == [], "the server outlived the process that started it"


def test_servers_stop_at_normal_interpreter_exit(tmp_path):
    script = (
        "import json\n"
        "from course_lib.servers import start_server\n"
        f"s = start_server('web', {HTTP!r}, log_dir={str(tmp_path)!r})\n"
        "print(json.dumps({'pgid': s.process.pid}), flush=True)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    pgid = json.loads(out.stdout.splitlines()[-1])["pgid"]
    assert _group_alive(pgid) == []


def test_serve_model_rejects_a_bad_uri(tmp_path):
    with pytest.raises(ValueError, match="models:/"):
        servers.serve_model("churn", ws=None)


def test_serve_model_answers_real_requests(tmp_path):
    """A registered model behind `mlflow models serve`, called over HTTP, then stopped completely."""
    import mlflow
    import pandas as pd
    import requests
    from sklearn.linear_model import LogisticRegression

    from course_lib.tracking import log_sklearn_model
    from course_lib.workspace import open_workspace

    ws = open_workspace("07-serving", root=tmp_path)
    ws.experiment("serve-test")
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    model = LogisticRegression().fit(X, [0, 0, 1, 1])
    with mlflow.start_run():
        info = log_sklearn_model(model, X.head(2), registered_model_name="serve-test")
    mlflow.MlflowClient().set_registered_model_alias("serve-test", "champion", info.registered_model_version)
    server = servers.serve_model("models:/serve-test@champion", ws)
    try:
        response = requests.post(server.url + "/invocations", json={"dataframe_split": X.to_dict(orient="split")}, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == list(model.predict(X))
        bad = requests.post(server.url + "/invocations", json={"dataframe_split": {"data": [[1.0]]}}, timeout=10)
        assert bad.status_code == 400, "the model's signature is enforced"
    finally:
        pgid = server.process.pid
        server.stop()
    assert _group_alive(pgid) == []
