"""Data-quality checks as code, and the report they produce.

Each check function looks at a DataFrame and returns rows of a report, one per
(check, column): how many rows failed. :func:`make_report` puts them together::

    report = make_report(frame, [
        completeness(frame, ["tenure_months", "age"]),
        value_range(frame, "age", 18, 100),
        uniqueness(frame, ["customer_id", "snapshot_date"]),
    ])

gives a DataFrame with columns ``check, column, failed_rows, rows, failure_rate, passed``.
The checks never change the data and never raise on bad values: a text where a number
should be is a *failed row*, not an exception. :func:`churn_schema` expresses similar rules
as a pandera schema; :func:`plot_failures` draws reports of many batches as a heatmap.

Introduced in 01-data.
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "REPORT_COLUMNS", "completeness", "numeric_type", "value_range", "allowed_values", "uniqueness",
    "consistency", "freshness", "make_report", "churn_schema", "plot_failures",
]

REPORT_COLUMNS = ["check", "column", "failed_rows", "rows", "failure_rate", "passed"]


def _row(check: str, column: str, failed: pd.Series | int) -> dict:
    count = int(failed.sum()) if isinstance(failed, pd.Series) else int(failed)
    return {"check": check, "column": column, "failed_rows": count}


def _column(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        raise KeyError(f"Column {column!r} is not in the frame; it has {list(frame.columns)}.")
    return frame[column]


def _numbers(values: pd.Series) -> pd.Series:
    """Values as floats; anything that is not a number (text, "N/A", "77,53") becomes NaN."""
    return pd.to_numeric(values, errors="coerce").astype("float64")


def completeness(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict]:
    """Missing values per column (``check = "completeness"``).

    Introduced in 01-data.
    """
    return [_row("completeness", c, _column(frame, c).isna()) for c in columns]


def numeric_type(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict]:
    """Values present but not numbers, e.g. ``"N/A"`` or a decimal comma (``check = "type"``).

    Introduced in 01-data.
    """
    rows = []
    for c in columns:
        values = _column(frame, c)
        rows.append(_row("type", c, values.notna() & _numbers(values).isna()))
    return rows


def value_range(frame: pd.DataFrame, column: str, low: float, high: float) -> list[dict]:
    """Numeric values outside ``[low, high]`` (missing and non-numeric values are other checks' job).

    Introduced in 01-data.
    """
    if low > high:
        raise ValueError(f"value_range needs low <= high, got [{low}, {high}].")
    numbers = _numbers(_column(frame, column))
    return [_row("range", column, numbers.notna() & ((numbers < low) | (numbers > high)))]


def allowed_values(frame: pd.DataFrame, column: str, values: Iterable[str]) -> list[dict]:
    """Present values that are not one of ``values``, compared exactly (``check = "category"``).

    Introduced in 01-data.
    """
    series = _column(frame, column)
    return [_row("category", column, series.notna() & ~series.isin(list(values)))]


def uniqueness(frame: pd.DataFrame, keys: Sequence[str]) -> list[dict]:
    """Extra rows that repeat a key already seen (``check = "uniqueness"``, column ``"a+b"``).

    Introduced in 01-data.
    """
    for key in keys:
        _column(frame, key)
    return [_row("uniqueness", "+".join(keys), frame.duplicated(subset=list(keys), keep="first"))]


def consistency(frame: pd.DataFrame, name: str, rule: Callable[[pd.DataFrame], pd.Series]) -> list[dict]:
    """Rows where ``rule(frame)`` (a boolean Series, True = consistent) is False (``check = "consistency"``).

    Rows the rule cannot evaluate (it returns NA) are not counted.

    Introduced in 01-data.
    """
    ok = rule(frame)
    if not isinstance(ok, pd.Series) or len(ok) != len(frame):
        raise ValueError(f"The rule {name!r} must return a boolean Series with one value per row.")
    return [_row("consistency", name, ok.eq(False).fillna(False).astype(bool))]


def freshness(frame: pd.DataFrame, month: str, column: str = "snapshot_date") -> list[dict]:
    """Rows whose date is not the last day of ``month`` ("YYYY-MM"), the batch's snapshot date.

    Introduced in 01-data.
    """
    expected = (pd.Period(month, freq="M").end_time.normalize()).strftime("%Y-%m-%d")
    return [_row("freshness", column, _column(frame, column).astype(str).str[:10] != expected)]


def make_report(frame: pd.DataFrame, parts: Iterable[list[dict]]) -> pd.DataFrame:
    """Put check results together: ``check, column, failed_rows, rows, failure_rate, passed``.

    Introduced in 01-data.
    """
    rows = [row for part in parts for row in part]
    report = pd.DataFrame(rows, columns=["check", "column", "failed_rows"])
    report["rows"] = len(frame)
    report["failure_rate"] = report["failed_rows"] / max(len(frame), 1)
    report["passed"] = report["failed_rows"] == 0
    return report[REPORT_COLUMNS]


def churn_schema():
    """A pandera schema for a churn batch: types, ranges, categories and the key, as one object.

    ``churn_schema().validate(frame, lazy=True)`` raises ``pandera.errors.SchemaErrors`` whose
    ``failure_cases`` frame lists every failing value (pandera is imported here, on use).

    Introduced in 01-data.
    """
    import pandera.pandas as pa

    from course_lib.datasets import CATEGORIES

    def number(low: float, high: float, nullable: bool = False):
        return pa.Column(float, pa.Check.in_range(low, high), nullable=nullable, coerce=True)

    return pa.DataFrameSchema(
        {
            "customer_id": pa.Column(str, pa.Check.str_matches(r"^C\d{6}$")),
            "snapshot_date": pa.Column(str, pa.Check.str_matches(r"^\d{4}-\d{2}-\d{2}$")),
            "tenure_months": number(0, 600),
            "monthly_charges": number(0, 1_000),
            "total_charges": number(0, 100_000),
            "data_usage_gb": number(0, 1_000),
            "support_calls": number(0, 50),
            "age": number(18, 110),
            **{c: pa.Column(str, pa.Check.isin(v)) for c, v in CATEGORIES.items()},
        },
        unique=["customer_id", "snapshot_date"],
        report_duplicates="exclude_first",
    )


def plot_failures(reports: Mapping[str, pd.DataFrame], ax=None):
    """Heatmap of failed rows: one column per batch, one row per (check, column) that ever failed.

    Introduced in 01-data.
    """
    import matplotlib.pyplot as plt

    if not reports:
        raise ValueError("plot_failures() needs at least one report, e.g. {'2025-03': report}.")
    table = pd.concat({batch: r.set_index(["check", "column"])["failed_rows"] for batch, r in reports.items()}, axis=1)
    table = table.fillna(0)
    table = table[(table > 0).any(axis=1)]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.55 * table.shape[1], 0.9 + 0.4 * max(len(table), 1)))
    shown = np.log10(1 + table.to_numpy(dtype=float))
    ax.imshow(shown, cmap="Reds", aspect="auto", vmin=0)
    for (i, j), value in np.ndenumerate(table.to_numpy()):
        if value:
            ax.text(j, i, f"{int(value)}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(table.shape[1]), table.columns, rotation=60, ha="right")
    ax.set_yticks(range(len(table)), [f"{c} · {col}" for c, col in table.index])
    ax.set_title("Failed rows per batch (colour: log scale)")
    return ax
