"""course_lib.serving: payloads, client errors, latency summaries, bounded load tests, Little's law, memory."""

import os
import threading
import time
from http.server import ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from course_lib import serving
from course_lib.multimodel import ModelRouter, _handler


class Doubler:
    def predict(self, frame):
        return (frame["x"] * 2).to_numpy()


@pytest.fixture()
def endpoint():
    """A multi-model handler with one fake model, on a loopback port, in a thread."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ModelRouter({("m", "1"): Doubler()})))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_to_payload_split_and_records():
    frame = pd.DataFrame({"x": [1, 2], "c": ["a", "b"]})
    assert serving.to_payload(frame) == {"dataframe_split": {"columns": ["x", "c"], "data": [[1, "a"], [2, "b"]]}}
    assert serving.to_payload(frame, "records") == {"dataframe_records": [{"x": 1, "c": "a"}, {"x": 2, "c": "b"}]}
    with pytest.raises(ValueError, match="orient"):
        serving.to_payload(frame, "columns")
    with pytest.raises(ValueError, match="DataFrame"):
        serving.to_payload([[1, 2]])


def test_invoke_returns_predictions_and_raises_with_the_server_message(endpoint):
    url = endpoint + "/models/m/versions/1/invocations"
    assert serving.invoke(url, pd.DataFrame({"x": [1, 5]})) == [2, 10]
    assert serving.invoke(url, pd.DataFrame({"x": [3]}), orient="records") == [6]
    with pytest.raises(ValueError, match="404.*version '9'"):
        serving.invoke(endpoint + "/models/m/versions/9/invocations", pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="400"):
        serving.invoke(url, pd.DataFrame({"y": [1]}))


def test_time_calls_is_bounded_by_count_and_time():
    assert len(serving.time_calls(lambda i: None, 50, warmup=2)) == 50
    start = time.perf_counter()
    slow = serving.time_calls(lambda i: time.sleep(0.05), 1000, max_seconds=0.3, warmup=0)
    assert time.perf_counter() - start < 1.5 and 3 <= len(slow) < 20
    assert np.all(slow >= 45)  # milliseconds
    with pytest.raises(ValueError):
        serving.time_calls(lambda i: None, 0)


def test_latency_percentiles():
    values = np.arange(1, 101, dtype=float)
    result = serving.latency_percentiles(values)
    assert list(result) == ["p50", "p95", "p99"]
    assert result["p50"] == pytest.approx(50.5) and result["p99"] == pytest.approx(99.01)
    with pytest.raises(ValueError):
        serving.latency_percentiles([])
    with pytest.raises(ValueError):
        serving.latency_percentiles([1.0, float("nan")])


def test_plot_latency_marks_three_percentiles():
    import matplotlib

    matplotlib.use("agg")
    ax = serving.plot_latency(np.random.default_rng(0).gamma(2, 5, 300))
    assert len(ax.lines) == 3 and "p99" in ax.get_legend().get_texts()[2].get_text()


def test_load_test_stops_by_itself_and_counts_errors():
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] % 5 == 0:
            raise RuntimeError("boom")
        time.sleep(0.002)

    start = time.perf_counter()
    result = serving.load_test(flaky, clients=3, seconds=0.4, max_requests=10_000)
    assert time.perf_counter() - start < 2
    assert result.errors > 0 and len(result.latencies_ms) > 0 and result.throughput > 0
    capped = serving.load_test(lambda: None, clients=2, seconds=5, max_requests=10)
    assert len(capped.latencies_ms) == 10 and capped.seconds < 2
    with pytest.raises(ValueError):
        serving.load_test(lambda: None, clients=0)


def test_required_concurrency_is_littles_law():
    assert serving.required_concurrency(200, 0.05) == pytest.approx(10)
    assert serving.required_concurrency(0, 1) == 0
    with pytest.raises(ValueError):
        serving.required_concurrency(-1, 0.1)


def test_tree_rss_mb_of_this_process():
    assert 10 < serving.tree_rss_mb(os.getpid()) < 10_000
    with pytest.raises(ValueError, match="pid"):
        serving.tree_rss_mb(2**22 + 12345)
