"""course_lib.lifecycle: the lifecycle figure, per-month scores and their plot."""

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from course_lib.lifecycle import (  # noqa: E402
    KEY_COMPONENTS,
    STAGES,
    plot_lifecycle,
    plot_monthly_scores,
    score_by_month,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def panel():
    rng = np.random.default_rng(0)
    dates = np.repeat(pd.to_datetime(["2025-01-31", "2025-02-28", "2025-03-31"]), 200)
    x = rng.normal(size=len(dates))
    y = (x + rng.normal(scale=0.5, size=len(dates)) > 0).astype(int)
    frame = pd.DataFrame({"snapshot_date": dates, "x": x, "churned": y})
    return frame.sample(frac=1.0, random_state=1)  # months out of order on purpose


def test_every_stage_belongs_to_a_component_and_governance_spans_all():
    covered = {s for c, stages in KEY_COMPONENTS.items() if c != "model governance" for s in stages}
    assert covered == set(STAGES)
    assert set(KEY_COMPONENTS["model governance"]) == set(STAGES)
    assert len(KEY_COMPONENTS) == 5


def test_plot_lifecycle_draws_every_stage_and_highlights():
    ax = plot_lifecycle("monitor")
    labels = {t.get_text() for t in ax.texts}
    assert set(STAGES) <= labels
    assert ax.get_legend() is not None


def test_plot_lifecycle_rejects_unknown_stage():
    with pytest.raises(ValueError, match="Unknown stage"):
        plot_lifecycle(["train", "deploy-to-mars"])


def test_score_by_month_is_sorted_and_matches_a_direct_computation(panel):
    from sklearn.metrics import roc_auc_score

    model = LogisticRegression().fit(panel[["x"]], panel["churned"])
    table = score_by_month(model, panel, features=["x"], target="churned")
    assert list(table.columns) == ["month", "n", "score"]
    assert list(table["month"]) == ["2025-01", "2025-02", "2025-03"]
    assert list(table["n"]) == [200, 200, 200]
    feb = panel[panel["snapshot_date"].dt.month == 2]
    expected = roc_auc_score(feb["churned"], model.predict_proba(feb[["x"]])[:, 1])
    assert table.loc[table["month"] == "2025-02", "score"].item() == pytest.approx(expected)


def test_score_by_month_takes_any_metric(panel):
    model = LogisticRegression().fit(panel[["x"]], panel["churned"])
    table = score_by_month(model, panel, features=["x"], target="churned",
                           metric=lambda y, p: float(np.sum(p) / np.sum(y)))
    assert table["score"].between(0.5, 1.5).all()


def test_score_by_month_errors_are_clear(panel):
    model = LogisticRegression().fit(panel[["x"]], panel["churned"])
    with pytest.raises(ValueError, match="predict_proba"):
        score_by_month(object(), panel, features=["x"], target="churned")
    with pytest.raises(ValueError, match="empty"):
        score_by_month(model, panel.iloc[:0], features=["x"], target="churned")
    with pytest.raises(KeyError, match="when"):
        score_by_month(model, panel, features=["x"], target="churned", timestamp="when")


def test_plot_monthly_scores_draws_lines_threshold_and_events(panel):
    a = pd.DataFrame({"month": ["2025-01", "2025-02"], "score": [0.8, 0.7]})
    b = pd.DataFrame({"month": ["2025-02", "2025-03"], "score": [0.75, 0.78]})
    ax = plot_monthly_scores({"old": a, "new": b}, threshold=0.72, reference=0.81, events={"2025-03": "offer"})
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2025-01", "2025-02", "2025-03"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["old", "new"] and any("0.72" in t for t in legend)
    assert any(t.get_text() == "offer" for t in ax.texts)
    single = plot_monthly_scores(a)
    assert len(single.lines) == 1


def test_plot_monthly_scores_rejects_bad_tables():
    with pytest.raises(ValueError, match="month"):
        plot_monthly_scores(pd.DataFrame({"when": ["2025-01"], "score": [0.8]}))
    with pytest.raises(ValueError, match="at least one"):
        plot_monthly_scores({})


def test_import_has_no_side_effects():
    import subprocess
    import sys

    code = ("import sys, course_lib.lifecycle; "
            "print(sorted(m for m in ('matplotlib', 'sklearn', 'mlflow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
