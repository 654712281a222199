"""course_lib.multimodel: routing, error statuses, and a real server holding two registered versions."""

import json
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import pandas as pd
import pytest

from course_lib import multimodel, servers


class Constant:
    def __init__(self, value):
        self.value = value

    def predict(self, frame):
        return [self.value] * len(frame)


def _post(url, body, content_type="application/json"):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_parse_model_spec():
    assert multimodel.parse_model_spec("team.churn/12") == ("team.churn", "12")
    for bad in ["churn", "churn/", "/3", "churn/latest"]:
        with pytest.raises(ValueError, match="name/version"):
            multimodel.parse_model_spec(bad)


def test_router_routes_counts_and_explains_unknown_models():
    router = multimodel.ModelRouter({("a", "1"): Constant(0), ("a", "2"): Constant(1)})
    assert router.route("/models/a/versions/2/invocations") == ("a", "2")
    with pytest.raises(KeyError, match="served"):
        router.route("/models/a/versions/3/invocations")
    with pytest.raises(ValueError, match="path like"):
        router.route("/invocations")
    body = {"dataframe_split": {"columns": ["x"], "data": [[1], [2]]}}
    assert router.predict("a", "2", body) == [1, 1]
    assert router.predict("a", "1", {"dataframe_records": [{"x": 1}]}) == [0]
    with pytest.raises(ValueError, match="dataframe_split"):
        router.predict("a", "1", {"inputs": [1]})
    assert router.catalogue() == {"models": ["a/1", "a/2"], "requests": {"a/1": 1, "a/2": 1}}
    with pytest.raises(ValueError):
        multimodel.ModelRouter({})


def test_http_statuses():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), multimodel._handler(multimodel.ModelRouter({("a", "1"): Constant(7)})))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        body = {"dataframe_split": {"columns": ["x"], "data": [[1]]}}
        assert _post(base + "/models/a/versions/1/invocations", body) == (200, {"predictions": [7]})
        assert _post(base + "/models/a/versions/1/invocations", body, content_type="text/plain")[0] == 415
        assert _post(base + "/models/a/versions/1/invocations", {"nope": 1})[0] == 400
        assert _post(base + "/models/b/versions/1/invocations", body)[0] == 404
        with urllib.request.urlopen(base + "/ping", timeout=5) as response:
            assert response.status == 200
        with urllib.request.urlopen(base + "/models", timeout=5) as response:
            assert json.loads(response.read())["requests"] == {"a/1": 1}
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_serve_models_holds_two_registered_versions(tmp_path):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from course_lib.tracking import log_sklearn_model
    from course_lib.workspace import open_workspace

    ws = open_workspace("07-serving", root=tmp_path / "ws")
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    for C in (1.0, 0.1):
        with mlflow.start_run():
            log_sklearn_model(LogisticRegression(C=C).fit(frame, [0, 0, 1, 1]), frame, registered_model_name="toy")
    with pytest.raises(ValueError):
        multimodel.serve_models([], ws)
    server = multimodel.serve_models(["toy/1", "toy/2"], ws, name="toy-multi")
    try:
        body = {"dataframe_split": {"columns": ["x"], "data": [[0.0], [3.0]]}}
        assert _post(server.url + "/models/toy/versions/2/invocations", body) == (200, {"predictions": [0, 1]})
        status, answer = _post(server.url + "/models/toy/versions/1/invocations", {"dataframe_split": {"columns": ["y"], "data": [[1.0]]}})
        assert status == 400 and "x" in answer["message"]
    finally:
        server.stop()
    assert servers.running_servers() == []
