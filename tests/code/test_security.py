import json
import urllib.error
import urllib.request

import pytest

from course_lib.security import (
    ensure_dev_secret, find_secret, get_secret, serve_protected, sign_file, validate_record, verify_file,
)

KEY = "k" * 32


def test_sign_and_verify_detect_a_changed_byte_and_a_wrong_key(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"weights")
    signature = sign_file(path, KEY)
    assert len(signature) == 64 and verify_file(path, signature, KEY)
    assert not verify_file(path, signature, "x" * 32)
    path.write_bytes(b"weightz")
    assert not verify_file(path, signature, KEY)
    with pytest.raises(ValueError, match="16 bytes"):
        sign_file(path, "short")
    with pytest.raises(FileNotFoundError):
        sign_file(tmp_path / "none", KEY)


def test_secrets_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("TEST_SECRET_X", raising=False)
    with pytest.raises(KeyError, match="TEST_SECRET_X"):
        get_secret("TEST_SECRET_X")
    assert ensure_dev_secret("TEST_SECRET_X") is True
    value = get_secret("TEST_SECRET_X")
    assert len(value) >= 32 and ensure_dev_secret("TEST_SECRET_X") is False
    (tmp_path / "a.txt").write_text(f"token={value}")
    (tmp_path / "b.txt").write_text("nothing")
    assert find_secret(value, tmp_path) == [tmp_path / "a.txt"]
    with pytest.raises(ValueError):
        ensure_dev_secret("not a name")


def test_validate_record():
    categories = {"plan": ["basic", "premium"]}
    good = {"tenure_months": 3, "monthly_charges": 50.0, "total_charges": 200.0, "data_usage_gb": 3.0,
            "support_calls": 1, "late_payments": 0, "age": 40, "plan": "basic"}
    assert validate_record(good, categories) == []
    assert any("age" in p for p in validate_record({**good, "age": 7}, categories))
    assert any("plan" in p for p in validate_record({**good, "plan": "gold"}, categories))
    assert any("number" in p for p in validate_record({**good, "age": "40"}, categories))
    assert any("unexpected" in p for p in validate_record({**good, "gender": "f"}, categories))
    assert validate_record([1], categories)


def test_protected_service_answers_401_422_200(tmp_path, monkeypatch):
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from course_lib.datasets import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES, TARGET, load_churn
    from course_lib.servers import stop_all
    from course_lib.services import export_linear_model
    from course_lib.workspace import open_workspace

    frame = load_churn("2025-01")
    pre = ColumnTransformer([("numeric", StandardScaler(), NUMERIC_FEATURES),
                             ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL_FEATURES)])
    model = Pipeline([("preprocess", pre), ("classifier", LogisticRegression(max_iter=500))]).fit(frame[FEATURES], frame[TARGET])
    path = tmp_path / "model.json"
    path.write_text(json.dumps(export_linear_model(model)))
    monkeypatch.delenv("TEST_API_TOKEN", raising=False)
    ws = open_workspace("10-governance", root=tmp_path / "ws")
    with pytest.raises(KeyError):
        serve_protected(path, ws, token_env="TEST_API_TOKEN")
    ensure_dev_secret("TEST_API_TOKEN")
    server = serve_protected(path, ws, token_env="TEST_API_TOKEN")
    try:
        record = {k: (v.item() if hasattr(v, "item") else v) for k, v in frame[FEATURES].iloc[0].items()}

        def post(body, token=None):
            headers = {"Content-Type": "application/json"}
            if token:
                headers["Authorization"] = f"Bearer {token}"
            request = urllib.request.Request(server.url + "/predict", json.dumps(body).encode(), headers)
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        token = get_secret("TEST_API_TOKEN")
        assert post({"records": [record]})[0] == 401
        assert post({"records": [record]}, "wrong")[0] == 401
        assert post({"records": [{**record, "age": -1}]}, token)[0] == 422
        assert post({"records": []}, token)[0] == 422
        status, body = post({"records": [record, record]}, token)
        assert status == 200 and len(body["churn_probability"]) == 2
        assert 0 < body["churn_probability"][0] < 1
        assert token not in server.log_tail(200)
    finally:
        stop_all()
