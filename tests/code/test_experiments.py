"""course_lib.experiments: run identity and benchmarking helpers."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from course_lib import experiments


@pytest.fixture
def frame():
    return pd.DataFrame({"a": [1, 2, 3, 4], "b": ["x", "y", "x", "z"]})


def test_fingerprint_ignores_order_and_index_but_not_content(frame):
    digest = experiments.data_fingerprint(frame)
    assert len(digest) == 64
    assert experiments.data_fingerprint(frame.iloc[::-1].reset_index(drop=True)) == digest
    assert experiments.data_fingerprint(frame.set_axis([9, 8, 7, 6])) == digest
    changed = frame.copy()
    changed.loc[2, "a"] = 30
    assert experiments.data_fingerprint(changed) != digest
    assert experiments.data_fingerprint(frame.rename(columns={"a": "c"})) != digest
    assert experiments.data_fingerprint(pd.concat([frame, frame.iloc[[0]]])) != digest
    with pytest.raises(ValueError, match="DataFrame"):
        experiments.data_fingerprint([1, 2])


def _train_a(x):
    return x + 1


def _train_b(x):
    return x + 2


def test_code_version_follows_the_source():
    assert experiments.code_version(_train_a) == experiments.code_version(_train_a)
    assert experiments.code_version(_train_a) != experiments.code_version(_train_b)
    assert experiments.code_version(_train_a).startswith("src-")
    with pytest.raises(ValueError):
        experiments.code_version(3)


def test_environment_and_identity(frame):
    env = experiments.environment()
    assert "scikit-learn==" in env and "numpy==" in env
    with pytest.raises(ValueError, match="not installed"):
        experiments.environment(["surely-not-a-package-xyz"])
    identity = experiments.run_identity(seed=7, frame=frame, func=_train_a)
    assert set(identity) == set(experiments.IDENTITY_KEYS)
    assert identity["seed"] == "7" and identity["environment"] == env
    with pytest.raises(ValueError, match="seed"):
        experiments.run_identity(seed=None, frame=frame, func=_train_a)


def test_best_so_far_and_mean_ci():
    assert experiments.best_so_far([0.5, 0.7, 0.6, 0.8]).tolist() == [0.5, 0.7, 0.7, 0.8]
    assert experiments.best_so_far([float("nan"), 0.6, float("nan"), 0.7]).tolist()[1:] == [0.6, 0.6, 0.7]
    with pytest.raises(ValueError):
        experiments.best_so_far([])
    mean, low, high = experiments.mean_ci([0.8, 0.82, 0.84])
    assert mean == pytest.approx(0.82) and low < mean < high
    with pytest.raises(ValueError):
        experiments.mean_ci([0.8])
    with pytest.raises(ValueError):
        experiments.mean_ci([0.8, 0.9], confidence=95)


def test_latency_size_and_plots():
    X = pd.DataFrame({"f": np.linspace(0, 1, 50), "g": np.linspace(1, 0, 50) ** 2})
    y = (X["f"] > 0.5).astype(int)
    model = LogisticRegression().fit(X, y)
    assert experiments.latency_ms_per_1000(model, X, repeats=1) > 0
    assert experiments.serialized_size(model) > 100
    with pytest.raises(ValueError):
        experiments.latency_ms_per_1000(object(), X)
    ax = experiments.plot_best_so_far({"grid": [0.5, 0.6], "random": [0.55, 0.52]}, baseline=0.5,
                                      costs={"random": [0.5, 1.0]})
    with pytest.raises(ValueError, match="costs"):
        experiments.plot_best_so_far({"grid": [0.5, 0.6]}, costs={"grid": [1.0]})
    assert len(ax.get_lines()) >= 3
    table = pd.DataFrame({"model": ["a", "b"], "auc_mean": [0.8, 0.82], "ci_low": [0.78, 0.8],
                          "ci_high": [0.82, 0.84], "ms_per_1000": [1.0, 5.0], "size_bytes": [1000, 90000]})
    assert len(experiments.plot_benchmark(table).axes) == 3
    with pytest.raises(KeyError):
        experiments.plot_benchmark(table.drop(columns="ci_low"))
    matplotlib.pyplot.close("all")
