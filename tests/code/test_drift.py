import numpy as np
import pandas as pd
import pytest

from course_lib.datasets import FEATURES, load_churn
from course_lib.drift import adjust_p_values, chi2_test, domain_classifier_auc, drift_report, ks_test, plot_drift, psi


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(0)
    return rng.normal(0, 1, 2000), rng.normal(0, 1, 1500), rng.normal(0.5, 1, 1500)


def test_ks_test_separates_same_from_shifted(samples):
    base, same, shifted = samples
    assert ks_test(base, same)[1] > 0.01
    statistic, p_value = ks_test(base, shifted)
    assert 0.1 < statistic < 0.35 and p_value < 1e-10
    assert ks_test([1, 2, 3, 4], [1, 2, 3, 4]) == (0.0, 1.0)


def test_ks_test_rejects_text_and_empty_samples():
    with pytest.raises(ValueError, match="chi2_test"):
        ks_test(pd.Series(["a", "b"]), pd.Series(["a", "c"]))
    with pytest.raises(ValueError, match="empty"):
        ks_test([], [1.0, 2.0])


def test_chi2_test_compares_shares():
    a = pd.Series(["x"] * 500 + ["y"] * 500)
    assert chi2_test(a, pd.Series(["x"] * 250 + ["y"] * 250))[1] > 0.99
    assert chi2_test(a, pd.Series(["x"] * 400 + ["y"] * 100))[1] < 1e-10
    assert chi2_test(pd.Series(["x", "x"]), pd.Series(["x"])) == (0.0, 1.0)
    assert chi2_test(a, pd.Series(["z"] * 100))[1] < 1e-10  # a category never seen in the reference


def test_psi_is_zero_on_itself_finite_on_disjoint_and_orders_shifts(samples):
    base, same, shifted = samples
    assert psi(base, base) == pytest.approx(0.0, abs=1e-12)
    assert psi(base, same) < 0.05 < psi(base, shifted)
    assert np.isfinite(psi(base, base + 100))
    assert psi(pd.Series(["a", "b"] * 50), pd.Series(["a"] * 90 + ["b"] * 10)) > 0.25
    with pytest.raises(ValueError, match="bins"):
        psi(base, same, bins=1)


def test_holm_matches_its_definition_and_bh_is_less_strict():
    p = [0.01, 0.04, 0.03, 0.5]
    assert adjust_p_values(p, "holm").round(3).tolist() == [0.04, 0.09, 0.09, 0.5]
    assert np.all(adjust_p_values(p, "bh") <= adjust_p_values(p, "holm") + 1e-12)
    assert adjust_p_values(p, "none").tolist() == p
    with pytest.raises(ValueError, match="holm"):
        adjust_p_values(p, "bonferoni")
    with pytest.raises(ValueError, match="between 0 and 1"):
        adjust_p_values([1.5], "holm")


def test_drift_report_finds_the_documented_price_rise():
    reference, current = load_churn("2025-01:2025-06"), load_churn("2025-10")
    report = drift_report(reference, current, features=FEATURES)
    assert list(report.columns) == ["feature", "kind", "test", "statistic", "p_value", "p_adjusted", "psi", "drifted"]
    assert set(report.loc[report["drifted"], "feature"]) == {"monthly_charges", "data_usage_gb", "payment_method"}
    assert set(report.loc[report["kind"] == "categorical", "test"]) == {"chi2"}
    assert (report["p_adjusted"] >= report["p_value"]).all()
    stable = drift_report(reference, load_churn("2025-08"), features=FEATURES)
    assert not stable["drifted"].any()


def test_drift_report_names_missing_features_and_bad_alpha():
    frame = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(KeyError, match="zzz"):
        drift_report(frame, frame, features=["zzz"])
    with pytest.raises(ValueError, match="alpha"):
        drift_report(frame, frame, alpha=2)


def test_domain_classifier_sees_moved_inputs_only():
    numeric = ["monthly_charges", "data_usage_gb", "age"]
    moved = domain_classifier_auc(load_churn("2025-07:2025-09"), load_churn("2025-10:2025-12"), numeric, max_rows=1500)
    stable = domain_classifier_auc(load_churn("2025-04:2025-06"), load_churn("2025-07:2025-09"), numeric, max_rows=1500)
    assert moved > 0.6 and stable < 0.56


def test_plot_drift_draws_a_heat_map():
    timeline = pd.DataFrame({"month": ["m1", "m1", "m2", "m2"], "feature": ["a", "b", "a", "b"],
                             "p_adjusted": [0.5, 0.001, 0.2, 1e-40]})
    ax = plot_drift(timeline)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    with pytest.raises(KeyError):
        plot_drift(timeline.drop(columns=["month"]))
