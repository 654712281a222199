"""course_lib.validation: the validation gate and month labels."""

import pandas as pd
import pytest

from course_lib.validation import GateDecision, month_labels, validation_gate


def test_month_labels():
    frame = pd.DataFrame({"snapshot_date": pd.to_datetime(["2025-01-31", "2025-02-28"])})
    assert month_labels(frame).tolist() == ["2025-01", "2025-02"]
    with pytest.raises(KeyError, match="snapshot_date"):
        month_labels(pd.DataFrame({"x": [1]}))


def test_gate_passes_with_reasons_and_no_champion():
    decision = validation_gate({"auc": 0.86, "ms": 3.0}, minimums={"auc": 0.8}, maximums={"ms": 10},
                               margins={"auc": 0.01})
    assert isinstance(decision, GateDecision) and decision.passed and bool(decision)
    assert decision.failed == []
    assert any("no champion" in r for r in decision.reasons)
    assert "PASS" in str(decision)


def test_gate_fails_each_rule_and_says_why():
    decision = validation_gate({"auc": 0.78, "ms": 30.0}, minimums={"auc": 0.8}, maximums={"ms": 10},
                               champion={"auc": 0.85}, margins={"auc": 0.01})
    assert not decision and decision.failed == ["min:auc", "max:ms", "champion:auc"]
    assert "floor" in decision.reasons[0] and "ceiling" in decision.reasons[1]
    assert "champion" in decision.reasons[2]
    assert "FAIL" in str(decision)


def test_gate_tolerates_the_margin():
    assert validation_gate({"auc": 0.845}, champion={"auc": 0.85}, margins={"auc": 0.01}).passed
    assert not validation_gate({"auc": 0.835}, champion={"auc": 0.85}, margins={"auc": 0.01}).passed


def test_gate_rejects_bad_input():
    with pytest.raises(ValueError, match="rule"):
        validation_gate({"auc": 0.9})
    with pytest.raises(KeyError, match="auc"):
        validation_gate({"acc": 0.9}, minimums={"auc": 0.8})
    with pytest.raises(KeyError, match="champion"):
        validation_gate({"auc": 0.9}, champion={"acc": 0.8}, margins={"auc": 0.0})
    with pytest.raises(ValueError, match="finite"):
        validation_gate({"auc": float("nan")}, minimums={"auc": 0.8})
    with pytest.raises(ValueError):
        validation_gate({}, minimums={"auc": 0.8})
