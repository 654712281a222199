import time

import numpy as np
import pandas as pd
import pytest

from course_lib.tracking import log_sklearn_model, pip_requirements, runs_table
from course_lib.workspace import open_workspace


def test_requirements_are_pinned_to_the_running_versions():
    import sklearn

    reqs = pip_requirements()
    assert f"scikit-learn=={sklearn.__version__}" in reqs
    assert all("==" in r for r in reqs)
    with pytest.raises(ValueError, match="not installed"):
        pip_requirements("no-such-package-xyz")


def test_log_model_is_fast_and_round_trips(tmp_path):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    ws = open_workspace("00-foundations", root=tmp_path)
    ws.experiment("tracking-test")
    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    y = (X.a > 9).astype(int)
    model = LogisticRegression().fit(X, y)
    with mlflow.start_run():
        started = time.perf_counter()
        info = log_sklearn_model(model, X.head(3), registered_model_name="tracking-test-model")
        elapsed = time.perf_counter() - started
    assert elapsed < 3.0, f"log_sklearn_model took {elapsed:.1f} s: requirement inference is back"
    loaded = mlflow.pyfunc.load_model(f"models:/tracking-test-model/{info.registered_model_version}")
    assert list(loaded.predict(X)) == list(model.predict(X))
    assert list(loaded.metadata.get_input_schema().input_names()) == ["a", "b"]
    table = runs_table("tracking-test", ws=ws, columns=["run_id", "status"])
    assert list(table.status) == ["FINISHED"]


def test_log_model_errors_are_clear(tmp_path):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    open_workspace("00-foundations", root=tmp_path)
    X = pd.DataFrame({"a": [0.0, 1.0]})
    with pytest.raises(ValueError, match="fitted"):
        with mlflow.start_run():
            log_sklearn_model(LogisticRegression(), X)
    with pytest.raises(RuntimeError, match="start_run"):
        log_sklearn_model(LogisticRegression().fit(X, [0, 1]), X)
    with pytest.raises(ValueError, match="No experiment"):
        runs_table("never-created")


def test_tree_models_log_and_load_with_trusted_stack_types(tmp_path):
    import mlflow
    from sklearn.ensemble import RandomForestClassifier

    open_workspace("00-foundations", root=tmp_path)
    X = pd.DataFrame({"a": np.arange(30.0), "b": np.arange(30.0) % 4})
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, (X.a > 14).astype(int))
    with mlflow.start_run():
        info = log_sklearn_model(model, X.head(2))
    assert list(mlflow.pyfunc.load_model(info.model_uri).predict(X)) == list(model.predict(X))


def test_foreign_types_must_be_trusted_on_purpose(tmp_path):
    import mlflow
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    open_workspace("00-foundations", root=tmp_path)
    X = pd.DataFrame({"a": [1.0, -2.0, 3.0, -4.0]})
    model = make_pipeline(FunctionTransformer(pd.DataFrame.abs), LogisticRegression()).fit(X, [0, 0, 1, 1])
    with mlflow.start_run(), pytest.raises(ValueError, match="trusted_types"):
        log_sklearn_model(model, X)
