import numpy as np
import pandas as pd
import pytest

from course_lib.audit import AuditTrail
from course_lib.governance import (
    Policy, check_policy, governed_promote, log_model_card, model_card, retire, set_stage, stage_of,
)
from course_lib.tracking import log_sklearn_model
from course_lib.workspace import open_workspace

POLICY = Policy(name="test", required_tags=("intended_use",), min_metrics={"val_auc": 0.7},
                max_metrics={"eo_difference": 0.1}, allowed_promoters=("release-bot",))
GOOD = {"tags": {"intended_use": "x", "approved_by": "ben", "trained_by": "ana"},
        "metrics": {"val_auc": 0.8, "eo_difference": 0.05}}


def test_check_policy_on_evidence_lists_every_violation():
    assert check_policy(POLICY, evidence=GOOD, actor="release-bot").allowed
    bad = {"tags": {"approved_by": "ana", "trained_by": "ana"}, "metrics": {"val_auc": 0.6, "eo_difference": 0.2}}
    decision = check_policy(POLICY, evidence=bad, actor="ana")
    assert not decision.allowed
    text = " | ".join(decision.reasons)
    for word in ("may not promote", "intended_use", "val_auc", "eo_difference", "four-eyes"):
        assert word in text
    missing = check_policy(POLICY, evidence={"tags": GOOD["tags"], "metrics": {}})
    assert any("not logged" in r for r in missing.reasons)
    unapproved = check_policy(POLICY, evidence={"tags": {"intended_use": "x"}, "metrics": GOOD["metrics"]})
    assert any("approval" in r for r in unapproved.reasons)


def test_policy_validates_its_fields():
    with pytest.raises(ValueError):
        Policy(min_metrics={"auc": "high"})
    with pytest.raises(ValueError):
        Policy(required_tags="intended_use")
    with pytest.raises(ValueError):
        check_policy(POLICY)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    root = tmp_path_factory.mktemp("gov")
    ws = open_workspace("10-governance", root=root)
    ws.experiment("gov-test")
    frame = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 3})
    frame["y"] = (frame.a > 19).astype(int)
    name = ws.qualified("gov-model")
    versions = []
    for i, auc in enumerate((0.8, 0.9, 0.6)):
        with mlflow.start_run(run_name=f"run-{i}"):
            mlflow.set_tags({"intended_use": "tests", "trained_by": "ana"})
            mlflow.log_metrics({"val_auc": auc, "eo_difference": 0.02, "group/gender/female/tpr": 0.5,
                                "group/gender/male/tpr": 0.55})
            mlflow.log_input(mlflow.data.from_pandas(frame, name="toy", targets="y"), context="training")
            model = LogisticRegression().fit(frame[["a", "b"]], frame.y)
            info = log_sklearn_model(model, frame[["a", "b"]].head(3), registered_model_name=name)
        versions.append(str(info.registered_model_version))
    client = mlflow.MlflowClient()
    for v in versions:
        client.set_model_version_tag(name, v, "approved_by", "ben")
    return client, name, versions, AuditTrail(root / "audit.jsonl")


def test_governed_promote_moves_alias_only_when_allowed_and_audits(registry):
    client, name, (v1, v2, v3), trail = registry
    assert not governed_promote(name, v1, POLICY, audit=trail, actor="ana", reason="try").allowed
    assert governed_promote(name, v1, POLICY, audit=trail, actor="release-bot", reason="first").allowed
    assert governed_promote(name, v2, POLICY, audit=trail, actor="release-bot", reason="better").allowed
    refused = governed_promote(name, v3, POLICY, audit=trail, actor="release-bot", reason="worse")
    assert not refused.allowed and any("val_auc" in r for r in refused.reasons)
    assert str(client.get_model_version_by_alias(name, "champion").version) == v2
    assert stage_of(name, v2) == "production" and stage_of(name, v1) == "deprecated"
    assert list(trail.alias_history(name)["holder"]) == [v1, v2]
    assert trail.verify() == []
    assert "promotion-refused" in set(trail.entries()["event"])


def test_stages_and_retirement_keep_the_version(registry):
    client, name, (v1, v2, v3), trail = registry
    with pytest.raises(ValueError, match="champion"):
        retire(name, v2, audit=trail, actor="ops", reason="no")
    with pytest.raises(ValueError, match="may move to"):
        set_stage(name, v3, "deprecated", audit=trail, actor="ops", reason="skip")
    set_stage(name, v3, "staging", audit=trail, actor="ops", reason="shadow test")
    retire(name, v1, audit=trail, actor="ops", reason="replaced for good")
    mv = client.get_model_version(name, v1)
    assert mv.tags["lifecycle.stage"] == "archived" and not mv.aliases
    assert trail.entries()["event"].iloc[-1] == "retired"
    with pytest.raises(ValueError, match="Unknown stage"):
        set_stage(name, v3, "gone", audit=trail, actor="ops", reason="x")


def test_model_card_reads_the_store_and_is_logged_on_the_version_run(registry):
    import mlflow

    client, name, (v1, v2, v3), trail = registry
    card = model_card(name, v2, limitations="toy data")
    for text in (f"version {v2}", "Intended use", "tests", "| gender | female |", "toy data", "Ethical considerations"):
        assert text in card
    result = log_model_card(name, v2, card)
    assert result["run_id"] == client.get_model_version(name, v2).run_id
    assert mlflow.artifacts.load_text(result["artifact_uri"]) == card
    assert client.get_model_version(name, v2).tags["model_card_sha256"] == result["sha256"]
