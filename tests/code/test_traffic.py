"""course_lib.traffic: bounded replay against a real (in-thread) router, and the A/B statistics."""

import math
import threading
from http.server import ThreadingHTTPServer

import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from course_lib import router, traffic
from course_lib.datasets import FEATURES, load_churn


class Threshold:
    def predict(self, frame):
        return (frame["support_calls"] > 2).astype(int).to_numpy()


@pytest.fixture()
def url():
    r = router.Router({"champion": (Threshold(), "1"), "candidate": (Threshold(), "2")},
                      {"strategy": "ab", "weights": {"champion": 50, "candidate": 50}, "salt": "t"})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), router._handler(r, lambda spec: None))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_replay_is_bounded_sticky_and_labelled(url):
    month = load_churn("2025-10").head(60)
    sent = traffic.replay(url, month, n=80, seconds=10, clients=3)
    assert list(sent.columns) == traffic.REPLAY_COLUMNS and len(sent) == 80 and (sent["status"] == 200).all()
    assert sent["seq"].tolist() == list(range(80))
    assert sent["label"].tolist()[:60] == month["churned"].tolist()
    arms = sent.groupby("user")["variant"].nunique()
    assert (arms == 1).all(), "a user keeps one arm"
    assert set(sent["variant"]) == {"champion", "candidate"}
    assert traffic.replay(url, month, n=5000, seconds=0.3, clients=1).shape[0] < 5000, "the time limit stops it"
    with pytest.raises(ValueError):
        traffic.replay(url, month, n=0, seconds=1)
    with pytest.raises(KeyError):
        traffic.replay(url, month.drop(columns=["age"]), n=1, seconds=1)


def test_replay_counts_refused_connections():
    sent = traffic.replay("http://127.0.0.1:9", load_churn("2025-10").head(3), n=3, seconds=5, clients=1)
    assert (sent["status"] == 0).all()


def test_two_proportion_test_matches_chi_square():
    result = traffic.two_proportion_test(420, 500, 380, 500)
    chi2, p, _, _ = chi2_contingency([[420, 80], [380, 120]], correction=False)
    assert math.isclose(result["p_value"], p, rel_tol=1e-9) and math.isclose(result["z"] ** 2, chi2, rel_tol=1e-9)
    assert result["diff"] == pytest.approx(-0.08) and result["ci_low"] < -0.08 < result["ci_high"] < 0
    assert result["significant"]
    assert not traffic.two_proportion_test(50, 100, 52, 100)["significant"]
    with pytest.raises(ValueError):
        traffic.two_proportion_test(5, 0, 1, 1)


def test_sample_size_per_arm_known_values():
    # the textbook value for 10 % -> 12 % at alpha 0.05, power 0.8 is 3,841 per arm
    assert traffic.sample_size_per_arm(0.10, 0.02) == 3841
    assert traffic.sample_size_per_arm(0.10, 0.02, power=0.9) > 3841
    assert traffic.sample_size_per_arm(0.84, -0.05) == traffic.sample_size_per_arm(0.79, 0.05)
    with pytest.raises(ValueError):
        traffic.sample_size_per_arm(0.9, 0.2)


def test_running_estimate_and_plot():
    frame = pd.DataFrame({"variant": ["A", "B"] * 100, "correct": [1, 0, 1, 1] * 50})
    est = traffic.running_estimate(frame, arm_a="A", arm_b="B", every=20)
    assert est["requests"].tolist() == list(range(20, 201, 20))
    assert est["diff"].iloc[-1] == pytest.approx(-0.5)
    assert (est["ci_low"] <= est["diff"]).all() and (est["diff"] <= est["ci_high"]).all()
    ax = traffic.plot_running_estimate(est, planned_n=120)
    assert ax.get_xlabel().startswith("requests")
    with pytest.raises(KeyError):
        traffic.running_estimate(frame, arm_a="A", arm_b="B", outcome="won")
