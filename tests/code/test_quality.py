"""course_lib.quality: checks count failing rows and never raise on bad values."""

import matplotlib

matplotlib.use("agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from course_lib.datasets import read_raw_batch  # noqa: E402
from course_lib.quality import (  # noqa: E402
    REPORT_COLUMNS, allowed_values, churn_schema, completeness, consistency, freshness, make_report,
    numeric_type, plot_failures, uniqueness, value_range,
)


@pytest.fixture
def frame():
    return pd.DataFrame({
        "customer_id": ["C1", "C2", "C2", "C3"],
        "snapshot_date": ["2025-03-31", "2025-03-31", "2025-03-31", "2025-02-28"],
        "amount": ["1.5", "77,53", "N/A", None],
        "age": [20, 0, 150, 40],
        "region": ["north", "North", " east", "west"],
    })


def _failed(rows):
    return [r["failed_rows"] for r in rows]


def test_each_check_counts_its_failures(frame):
    assert _failed(completeness(frame, ["amount", "age"])) == [1, 0]
    assert _failed(numeric_type(frame, ["amount", "age"])) == [2, 0]
    assert _failed(value_range(frame, "age", 18, 100)) == [2]
    assert _failed(value_range(frame, "amount", 0, 1)) == [1]  # text is the type check's job
    assert _failed(allowed_values(frame, "region", ["north", "east", "west"])) == [2]
    assert _failed(uniqueness(frame, ["customer_id", "snapshot_date"])) == [1]
    assert uniqueness(frame, ["customer_id", "snapshot_date"])[0]["column"] == "customer_id+snapshot_date"
    assert _failed(freshness(frame, "2025-03")) == [1]
    rule = lambda f: pd.Series([True, False, pd.NA, True], index=f.index, dtype="boolean")
    assert _failed(consistency(frame, "rule", rule)) == [1]


def test_bad_arguments_raise_clearly(frame):
    with pytest.raises(KeyError, match="nope"):
        completeness(frame, ["nope"])
    with pytest.raises(ValueError, match="low <= high"):
        value_range(frame, "age", 5, 1)
    with pytest.raises(ValueError, match="boolean Series"):
        consistency(frame, "bad", lambda f: True)
    with pytest.raises(ValueError):
        plot_failures({})


def test_report_shape(frame):
    report = make_report(frame, [completeness(frame, ["amount"]), value_range(frame, "age", 18, 100)])
    assert list(report.columns) == REPORT_COLUMNS
    assert report["rows"].tolist() == [4, 4] and report["passed"].tolist() == [False, False]
    assert np.allclose(report["failure_rate"], [0.25, 0.5])


def test_schema_flags_the_2025_08_batch_and_passes_a_clean_one():
    import pandera.pandas as pa

    churn_schema().validate(read_raw_batch("2025-02"), lazy=True)
    with pytest.raises(pa.errors.SchemaErrors) as err:
        churn_schema().validate(read_raw_batch("2025-08"), lazy=True)
    assert set(err.value.failure_cases["column"]) == {"age", "data_usage_gb"}


def test_heatmap_shows_only_failing_checks(frame):
    good = make_report(frame, [value_range(frame, "age", 0, 200)])
    bad = make_report(frame, [value_range(frame, "age", 18, 100), completeness(frame, ["age"])])
    ax = plot_failures({"2025-01": good, "2025-02": bad})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["range · age"]
    plt.close("all")
