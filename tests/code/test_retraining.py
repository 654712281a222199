import numpy as np
import pandas as pd
import pytest

from course_lib.datasets import FEATURES, MONTHS, TARGET, load_churn
from course_lib.registry import promote
from course_lib.retraining import (MonitorStatus, RetrainPolicy, churn_model, compare, continuous_training, holdout_gate,
                                   log_scoring_model, plot_continuous_training, should_retrain, train_challenger)


@pytest.fixture(scope="module")
def churn():
    return load_churn("2025-01:2025-12")


def test_train_challenger_uses_only_its_window(churn):
    model = train_challenger(churn, "2025-01:2025-03")
    same = churn_model().fit(load_churn("2025-01:2025-03")[FEATURES], load_churn("2025-01:2025-03")[TARGET])
    rows = load_churn("2025-04")[FEATURES]
    assert np.allclose(model.predict_proba(rows), same.predict_proba(rows))
    with pytest.raises(ValueError, match="window"):
        train_challenger(churn, "2025-05:2025-01")
    with pytest.raises(ValueError, match="no labelled rows"):
        train_challenger(churn, "2026-05")


def test_compare_scores_both_on_the_same_rows(churn):
    old, new = train_challenger(churn, "2025-01:2025-03"), train_challenger(churn, "2025-04:2025-06")
    result = compare(old, new, load_churn("2025-07"))
    assert set(result) == {"champion_auc", "challenger_auc", "delta", "n"}
    assert result["delta"] == pytest.approx(result["challenger_auc"] - result["champion_auc"])
    assert 0.75 < result["champion_auc"] < 0.95


def test_should_retrain_applies_each_trigger_and_the_cooldown():
    policy = RetrainPolicy(max_auc_drop=0.02, min_auc=0.8, min_drifted=2, cooldown=2)
    status = MonitorStatus("2026-04", "2026-03", auc=0.85, reference_auc=0.88)
    assert should_retrain(status, policy) == (True, [should_retrain(status, policy)[1][0]])
    assert should_retrain(MonitorStatus("m", "l", 0.87, 0.88), policy) == (False, [])
    fire, reasons = should_retrain(MonitorStatus("m", "l", 0.87, 0.88, drifted=("a", "b")), policy)
    assert fire and reasons[0].startswith("drift")
    fire, reasons = should_retrain(MonitorStatus("m", "l", 0.7, 0.88, months_since_promotion=1), policy)
    assert not fire and reasons[-1].startswith("cooldown") and len(reasons) == 3
    assert not should_retrain(MonitorStatus("m", "l", 0.7, 0.88), RetrainPolicy(None, None, None))[0]


def test_continuous_training_runs_month_by_month(churn):
    result = continuous_training(MONTHS[8:12], churn, initial_window="2025-01:2025-06", train_months=3,
                                 trigger=lambda status: (status.month == "2025-10", ["test"]), progress=False)
    assert result["month"].tolist() == MONTHS[8:12]
    assert result["labelled_month"].tolist() == MONTHS[7:11]
    assert result["retrained"].tolist() == [False, True, False, False]
    assert result.loc[0, "auc_ct"] == pytest.approx(result.loc[0, "auc_static"])
    promoted = result.loc[1, "promoted"]
    assert result.loc[3, "champion_window"] == ("2025-06..2025-08" if promoted else "2025-01..2025-06")
    assert len(plot_continuous_training(result, events={"2025-10": "x"}).lines) >= 2
    with pytest.raises(ValueError, match="months"):
        continuous_training(["2025-01"], churn)


def test_gate_and_scoring_model_through_the_registry(tmp_path, churn):
    import mlflow

    from course_lib.workspace import open_workspace

    ws = open_workspace("09-monitoring", root=tmp_path)
    ws.experiment("retraining-test")
    name = ws.qualified("retrain-test")
    holdout = load_churn("2025-07")
    versions = []
    for window in ("2025-01:2025-02", "2025-01:2025-06"):
        with mlflow.start_run():
            info = log_scoring_model(train_challenger(churn, window), holdout[FEATURES].head(3),
                                     registered_model_name=name)
        versions.append(str(info.registered_model_version))
    served = mlflow.pyfunc.load_model(f"models:/{name}/{versions[0]}").predict(holdout[FEATURES].head(4))
    assert np.asarray(served).shape == (4, 2)  # probabilities, not labels
    assert promote(name, versions[0], holdout_gate(holdout)).approved
    decision = promote(name, versions[1], holdout_gate(holdout, margin=0.5))
    assert not decision.approved and "holdout AUC" in decision.reasons[0]
    with pytest.raises(RuntimeError, match="start_run"):
        log_scoring_model(churn_model(), holdout[FEATURES].head(3))
