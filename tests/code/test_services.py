"""course_lib.services: the exported model and the two HTTP services."""

import json
import sys
import urllib.error
import urllib.request

import pytest

from course_lib import servers, services
from course_lib.datasets import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, TARGET, load_churn


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def fitted():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = load_churn("2025-01")
    model = Pipeline([("preprocess", ColumnTransformer([("numeric", StandardScaler(), NUMERIC_FEATURES),
                                                        ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES)])),
                      ("classifier", LogisticRegression(max_iter=500))]).fit(frame[FEATURES], frame[TARGET])
    return model, frame


def test_exported_model_predicts_like_scikit_learn(fitted):
    model, frame = fitted
    light = services.LinearChurnModel(json.loads(json.dumps(services.export_linear_model(model))))
    expected = model.predict_proba(frame[FEATURES])[:, 1]
    got = light.predict_proba(frame[FEATURES].to_dict("records"))
    assert max(abs(a - b) for a, b in zip(got, expected)) < 1e-9
    assert light.features == FEATURES
    with pytest.raises(KeyError, match="lacks"):
        light.score({"tenure_months": 3})


def test_bad_inputs_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="Pipeline"):
        services.export_linear_model(object())
    with pytest.raises(ValueError, match="logistic-v1"):
        services.LinearChurnModel({"kind": "other"})
    with pytest.raises(FileNotFoundError):
        services.LinearChurnModel.load(tmp_path / "none.json")
    with pytest.raises(ValueError, match="base URL"):
        services.write_registry(tmp_path / "r.json", {"feature-service": "127.0.0.1:80"})
    assert services.read_registry(tmp_path / "r.json") == {}


def test_feature_and_model_services_talk_and_upgrade_independently(fitted, tmp_path):
    model, frame = fitted
    (tmp_path / "model.json").write_text(json.dumps(services.export_linear_model(model)))
    registry = tmp_path / "registry.json"
    feature_cmd = [sys.executable, "-m", "course_lib.services", "feature", "--port", "{port}", "--month", "2025-01"]
    try:
        features = servers.start_server("t-features", [*feature_cmd, "--version", "1.0.0"], log_dir=tmp_path, ready_path="/health")
        services.write_registry(registry, {"feature-service": features.url})
        scorer = servers.start_server("t-model", [sys.executable, "-m", "course_lib.services", "model", "--port", "{port}",
                                                  "--model", str(tmp_path / "model.json"), "--registry", str(registry)],
                                      log_dir=tmp_path, ready_path="/health")
        customer = frame["customer_id"].iloc[0]
        status, body = _get(f"{scorer.url}/predict/{customer}")
        assert status == 200 and body["feature_service_version"] == "1.0.0"
        assert abs(body["churn_probability"] - model.predict_proba(frame[FEATURES].iloc[[0]])[0, 1]) < 1e-9
        assert _get(f"{scorer.url}/predict/C999999")[0] == 404
        assert _get(f"{features.url}/version")[1]["month"] == "2025-01"
        assert _get(f"{features.url}/nope")[0] == 404
        features = servers.start_server("t-features", [*feature_cmd, "--version", "1.1.0"], log_dir=tmp_path, ready_path="/health")
        assert _get(f"{scorer.url}/predict/{customer}")[0] == 502  # the registry still names the old port
        services.write_registry(registry, {"feature-service": features.url})
        assert _get(f"{scorer.url}/predict/{customer}")[1]["feature_service_version"] == "1.1.0"
    finally:
        servers.stop_all()
