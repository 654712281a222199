"""course_lib.features: the look-ahead test and the three plots."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from course_lib.features import lookahead_rows, plot_auc_bars, plot_importances, plot_score_vs_k  # noqa: E402


@pytest.fixture()
def panel():
    return pd.DataFrame({
        "customer_id": ["A", "B", "A", "B", "A"],
        "snapshot_date": pd.to_datetime(["2025-01-31", "2025-01-31", "2025-02-28", "2025-02-28", "2025-03-31"]),
        "calls": [1, 5, 2, 6, 9],
    })


def _past_sum(panel):
    ordered = panel.sort_values(["customer_id", "snapshot_date"])
    return ordered.groupby("customer_id")["calls"].cumsum().rename("f").to_frame().loc[panel.index]


def _whole_mean(panel):
    return panel.groupby("customer_id")["calls"].transform("mean").rename("f")


def test_lookahead_rows_passes_a_past_only_feature(panel):
    assert lookahead_rows(_past_sum, panel, "2025-03-01") == 0


def test_lookahead_rows_counts_rows_that_peek(panel):
    assert lookahead_rows(_whole_mean, panel, "2025-02-01") == 2
    assert lookahead_rows(_whole_mean, panel, "2025-03-01") == 2


def test_lookahead_rows_errors(panel):
    with pytest.raises(KeyError, match="no column"):
        lookahead_rows(_past_sum, panel, "2025-03-01", timestamp="when")
    with pytest.raises(ValueError, match="No rows before"):
        lookahead_rows(_past_sum, panel, "2020-01-01")
    with pytest.raises(KeyError, match="lacks"):
        lookahead_rows(_past_sum, panel, "2025-03-01", columns=["g"])


def test_plots_draw_and_validate():
    ax = plot_score_vs_k({"filter": pd.DataFrame({"k": [1, 2], "val_auc": [0.7, 0.8]})})
    assert len(ax.lines) == 1
    with pytest.raises(KeyError, match="val_auc"):
        plot_score_vs_k({"bad": pd.DataFrame({"k": [1]})})
    fig = plot_importances(pd.Series({"a": 0.1, "noise": 0.0}), pd.Series({"a": 0.3, "noise": 0.2}), highlight="noise")
    assert len(fig.axes) == 2
    fig2 = plot_auc_bars({"point-in-time": 0.87, "naive": 0.96})
    assert len(fig2.axes[0].patches) == 2
    with pytest.raises(ValueError):
        plot_auc_bars({})
    plt.close("all")
