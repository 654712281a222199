"""course_lib.deployment / router / canary: policies, sticky routing, shadow logging, the HTTP API, canary rollback."""

import threading
from http.server import ThreadingHTTPServer

import pandas as pd
import pytest

from course_lib import deployment, router, servers
from course_lib.canary import step_stats, threshold_gate


class Constant:
    def __init__(self, value, fail=False):
        self.value, self.fail = value, fail

    def predict(self, frame):
        if self.fail:
            raise RuntimeError("model crashed")
        if "x" not in frame.columns:
            raise ValueError("missing column 'x'")
        return [self.value] * len(frame)


BODY = {"dataframe_split": {"columns": ["x"], "data": [[1]]}}


def _router(**extra):
    variants = {"champion": (Constant(0), "1"), "candidate": (Constant(1), "2"), **extra}
    return router.Router(variants)


def test_bucket_is_stable_and_salted():
    assert router.bucket("C000001", "exp") == router.bucket("C000001", "exp")
    assert 0 <= router.bucket("u") < 100
    assert [router.bucket(f"u{i}", "a") for i in range(50)] != [router.bucket(f"u{i}", "b") for i in range(50)]


def test_validate_policy_explains_mistakes():
    names = {"champion", "candidate"}
    assert router.validate_policy({"strategy": "canary", "weights": {"champion": 95, "candidate": 5}}, names)["salt"] == "canary"
    with pytest.raises(ValueError, match="strategy"):
        router.validate_policy({"strategy": "rainbow"}, names)
    with pytest.raises(KeyError, match="variants"):
        router.validate_policy({"strategy": "blue-green", "live": "green"}, names)
    with pytest.raises(ValueError, match="add up to 100"):
        router.validate_policy({"strategy": "ab", "weights": {"champion": 50, "candidate": 40}}, names)
    with pytest.raises(ValueError, match="different"):
        router.validate_policy({"strategy": "shadow", "primary": "champion", "shadow": "champion"}, names)


def test_canary_assignment_is_sticky_and_monotone():
    small = router.validate_policy({"strategy": "canary", "weights": {"champion": 95, "candidate": 5}}, {"champion", "candidate"})
    large = router.validate_policy({"strategy": "canary", "weights": {"champion": 75, "candidate": 25}}, {"champion", "candidate"})
    users = [f"C{i:06d}" for i in range(2000)]
    at5 = {u for u in users if router.choose(small, u, 0)[0] == "candidate"}
    at25 = {u for u in users if router.choose(large, u, 0)[0] == "candidate"}
    assert 0.03 < len(at5) / 2000 < 0.07 and 0.21 < len(at25) / 2000 < 0.29
    assert at5 <= at25, "users on the candidate at 5 % keep it at 25 %"
    assert {router.choose(small, u, i)[0] for i, u in enumerate(["C000007"] * 20)} == {router.choose(small, "C000007", 0)[0]}


def test_router_policies_log_and_shadow(tmp_path):
    r = router.Router({"champion": (Constant(0), "1"), "candidate": (Constant(1), "2")}, log_path=tmp_path / "log.jsonl")
    assert r.handle(BODY, "u1")[1] == {"predictions": [0], "variant": "champion", "model_version": "1"}
    r.set_policy({"strategy": "shadow", "primary": "champion", "shadow": "candidate"})
    answers = [r.handle(BODY, f"u{i}")[1] for i in range(20)]
    assert {a["variant"] for a in answers} == {"champion"} and {a["predictions"][0] for a in answers} == {0}
    records = r.records(since=1)
    assert len(records) == 20 and all(rec["shadow_prediction"] == 1 and rec["shadow_latency_ms"] >= 0 for rec in records)
    r.set_policy({"strategy": "blue-green", "live": "candidate"})
    assert r.handle(BODY)[1]["variant"] == "candidate"
    assert r.handle({"nope": 1})[0] == 400
    assert r.handle(BODY, direct="champion")[1]["variant"] == "champion"
    assert r.handle(BODY, direct="purple")[0] == 404
    assert deployment.read_log(tmp_path / "log.jsonl")["seq"].tolist() == list(range(1, 25))
    assert r.describe()["candidate"]["requests"] == 2


def test_a_failing_model_answers_500_and_is_logged():
    r = _router(broken=(Constant(0, fail=True), "3"))
    r.set_policy({"strategy": "single", "live": "broken"})
    status, payload = r.handle(BODY, "u")
    assert status == 500 and "crashed" in payload["message"]
    assert r.records()[-1]["status"] == 500


def test_http_api_and_client_helpers():
    r = _router()
    loads = {"toy/9": (Constant(1), "9")}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), router._handler(r, lambda spec: loads[spec]))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        assert deployment.get_policy(url) == {"strategy": "single", "live": "champion"}
        deployment.set_policy(url, {"strategy": "blue-green", "live": "candidate"})
        with pytest.raises(ValueError, match="400"):
            deployment.set_policy(url, {"strategy": "blue-green", "live": "purple"})
        assert deployment.get_policy(url)["live"] == "candidate", "a refused policy leaves the old one in force"
        assert deployment.deploy_variant(url, "green", "toy/9")["model_version"] == "9"
        assert deployment.invoke_variant(url, "green", pd.DataFrame({"x": [1, 2]}))["predictions"] == [1, 1]
        assert deployment.list_variants(url)["green"]["requests"] == 1
        assert deployment.last_seq(url) == 1
        log = deployment.read_log(url)
        assert list(log["strategy"]) == ["direct"] and set(deployment.LOG_COLUMNS) <= set(log.columns)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _step(n_champion, n_candidate, acc_champion, acc_candidate, status=200, latency=5.0):
    rows = []
    for variant, n, acc in (("champion", n_champion, acc_champion), ("candidate", n_candidate, acc_candidate)):
        right = round(n * acc)
        rows += [{"variant": variant, "status": status if variant == "candidate" else 200, "latency_ms": latency,
                  "prediction": 1, "label": 1 if i < right else 0} for i in range(n)]
    return pd.DataFrame(rows)


def test_threshold_gate_and_step_stats():
    gate = threshold_gate()
    assert gate(_step(100, 20, 0.85, 0.85))[0]
    assert not gate(_step(100, 20, 0.85, 0.4))[0]
    assert not gate(_step(100, 3, 0.85, 0.85))[0]
    assert not gate(_step(100, 20, 0.85, 0.85, status=500))[0]
    assert "latency" in "; ".join(gate(_step(100, 20, 0.85, 0.85, latency=1500))[1])
    assert step_stats(_step(10, 10, 0.5, 1.0))["metric"] == 1.0


def test_run_canary_rolls_back_automatically():
    r = _router()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), router._handler(r, lambda spec: None))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        good = lambda: _step(90, 10, 0.8, 0.8)  # noqa: E731
        timeline = deployment.run_canary(url, gate={}, traffic=good, progress=False)
        assert list(timeline["decision"]) == ["continue"] * 3 + ["complete"]
        bad = lambda: _step(70, 30, 0.8, 0.3)  # noqa: E731
        timeline = deployment.run_canary(url, gate={}, traffic=bad, progress=False)
        assert list(timeline["decision"]) == ["rollback"]
        assert deployment.get_policy(url) == {"strategy": "single", "live": "champion"}
        with pytest.raises(ValueError, match="increasing"):
            deployment.run_canary(url, (50, 5), gate={}, traffic=good)
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_release_journal(tmp_path):
    from course_lib.workspace import open_workspace

    ws = open_workspace("08-deployment-strategies", root=tmp_path / "ws")
    with pytest.raises(ValueError, match="why"):
        deployment.record_release(ws, who="me", what="rollback", why=" ")
    deployment.record_release(ws, who="me", what="rollback v2 -> v1", why="accuracy dropped", version="1")
    journal = deployment.release_journal(ws)
    assert journal.loc[0, "who"] == "me" and journal.loc[0, "version"] == "1"


def test_start_router_serves_registered_versions(tmp_path):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from course_lib.tracking import log_sklearn_model
    from course_lib.workspace import open_workspace

    ws = open_workspace("08-deployment-strategies", root=tmp_path / "ws")
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    for labels in ([0, 0, 1, 1], [1, 1, 0, 0]):
        with mlflow.start_run():
            log_sklearn_model(LogisticRegression().fit(frame, labels), frame, registered_model_name="toy")
    mlflow.MlflowClient().set_registered_model_alias("toy", "champion", "1")
    with pytest.raises(ValueError):
        deployment.start_router(ws, {})
    server = deployment.start_router(ws, {"champion": "models:/toy@champion", "candidate": "toy/2"},
                                     policy={"strategy": "shadow", "primary": "champion", "shadow": "candidate"},
                                     name="toy-router")
    try:
        answer = deployment.invoke_variant(server.url, "candidate", frame.head(1))
        assert answer["model_version"] == "2"
        from course_lib.traffic import replay

        sent = replay(server.url, frame.assign(customer_id=list("abcd"), churned=[0, 0, 1, 1]), n=8, seconds=5,
                      features=["x"])
        assert (sent["status"] == 200).all() and set(sent["variant"]) == {"champion"}
        log = deployment.read_log(server.url)
        assert len(log) == 9 and log["shadow_model_version"].dropna().unique().tolist() == ["2"]
        assert (ws.path / "deployment" / "toy-router-requests.jsonl").is_file()
    finally:
        server.stop()
    assert servers.running_servers() == []


def test_step_stats_reads_probability_answers_at_one_half():
    import pandas as pd

    from course_lib.canary import step_stats

    frame = pd.DataFrame({"variant": ["candidate"] * 4 + ["champion"] * 2, "status": [200] * 6,
                          "latency_ms": [5.0] * 6, "prediction": [0.9, 0.2, 0.6, 0.4, 1, 0],
                          "label": [1, 0, 0, 0, 1, 1]})
    stats = step_stats(frame)
    assert stats["metric"] == 0.75 and stats["champion_metric"] == 0.5
