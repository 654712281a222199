"""Data tests for the Northwind churn dataset (datasets/churn/, course_lib.datasets).

They check that the committed files are exactly what the generator writes, that the
clean table has the documented schema and panel structure, that every documented
event and raw-batch problem is really there (with real statistics) and absent where
the datasheet says it is absent, and that the loaders fail clearly on bad input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from course_lib import datasets as ds
from course_lib.paths import datasets_dir

ALPHA = 0.01


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    df = ds.load_churn()
    df["month"] = df[ds.TIMESTAMP].dt.strftime("%Y-%m")
    return df


@pytest.fixture(scope="module")
def events() -> dict:
    return ds.churn_events()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    out = tmp_path_factory.mktemp("generated")
    start = time.perf_counter()
    ds.generate_churn(out)
    return out / "churn", time.perf_counter() - start


def window(df: pd.DataFrame, months: str) -> pd.DataFrame:
    """Rows of an inclusive month range "YYYY-MM:YYYY-MM" (or one month)."""
    first, _, last = months.partition(":")
    return df[df["month"].between(first, last or first)]


def drift_pvalues(a: pd.DataFrame, b: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    """Two-sample KS test for numeric columns, chi-square test of homogeneity for categorical ones."""
    out = {}
    for c in columns:
        if pd.api.types.is_numeric_dtype(a[c]):
            out[c] = stats.ks_2samp(a[c], b[c]).pvalue
        else:
            table = pd.crosstab(pd.concat([a[c], b[c]]), np.r_[np.zeros(len(a)), np.ones(len(b))])
            out[c] = stats.chi2_contingency(table).pvalue
    return out


def segment(df: pd.DataFrame, event: dict) -> pd.Series:
    s = event["segment"]
    return ((df["contract"] == s["contract"]) & (df["monthly_charges"] > s["monthly_charges_above"])
            & (df["tenure_months"] >= s["tenure_months_at_least"]))


@pytest.fixture(scope="module")
def reference_model(clean: pd.DataFrame):
    """The datasheet's reference model: gradient boosting trained on 2025-01..2025-06, no gender."""
    pre = ColumnTransformer([("num", StandardScaler(), ds.NUMERIC_FEATURES),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ds.CATEGORICAL_FEATURES)])
    model = make_pipeline(pre, HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=40, random_state=0))
    train = window(clean, "2025-01:2025-06")
    return model.fit(train[ds.FEATURES], train[ds.TARGET])


def event(events: dict, kind: str) -> dict:
    (found,) = [e for e in events["events"] if e["kind"] == kind]
    return found


# --------------------------------------------------------------------------- reproducibility


def test_committed_files_equal_a_fresh_generation(fresh: tuple[Path, float]) -> None:
    generated, seconds = fresh
    committed = datasets_dir() / "churn"
    new = {p.relative_to(generated).as_posix(): p.read_bytes() for p in generated.rglob("*") if p.is_file()}
    old = {p.relative_to(committed).as_posix(): p.read_bytes() for p in committed.rglob("*") if p.is_file()}
    differing = sorted(n for n in new if n in old and new[n] != old[n])
    missing, extra = sorted(set(new) - set(old)), sorted(set(old) - set(new))
    assert not (differing or missing or extra), (
        f"datasets/churn/ is not what the generator writes: differing {differing}, missing {missing}, "
        f"extra {extra}. Run `python -m course_lib.datasets` and commit the result."
    )
    assert seconds < 10, f"generate_churn took {seconds:.1f} s; it should stay under 10 s"


def test_dataset_stays_small() -> None:
    size = sum(p.stat().st_size for p in (datasets_dir() / "churn").rglob("*") if p.is_file())
    assert size < 6e6, f"datasets/churn/ is {size / 1e6:.1f} MB; keep it under 6 MB"


def test_files_use_unix_line_endings() -> None:
    for path in (datasets_dir() / "churn").rglob("*"):
        if path.is_file():
            assert b"\r" not in path.read_bytes(), f"{path.name} contains carriage returns"


def test_check_command_reports_a_changed_file(fresh: tuple[Path, float], tmp_path: Path, capsys) -> None:
    copy = tmp_path / "churn"
    for src in fresh[0].rglob("*"):
        if src.is_file():
            dst = copy / src.relative_to(fresh[0])
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
    assert ds.main(["--out", str(tmp_path), "--check"]) == 0
    (copy / "raw" / "2025-02.csv").write_text("tampered\n")
    (copy / "stray.txt").write_text("x\n")
    assert ds.main(["--out", str(tmp_path), "--check"]) == 1
    output = capsys.readouterr().out
    assert "differs: raw/2025-02.csv" in output and "extra:   stray.txt" in output


def test_import_has_no_side_effects(tmp_path: Path) -> None:
    code = ("import numpy as np; before = np.random.get_state()[1].copy(); import course_lib.datasets; "
            "after = np.random.get_state()[1]; assert (before == after).all(), 'global seed changed'")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.iterdir()) == [], "importing course_lib.datasets wrote files"


# --------------------------------------------------------------------------- clean table: schema and panel


def test_schema_and_dtypes(clean: pd.DataFrame) -> None:
    df = ds.load_churn()
    assert list(df.columns) == ds.COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(df[ds.TIMESTAMP])
    for c in ["tenure_months", "support_calls", "late_payments", "age", ds.TARGET]:
        assert df[c].dtype == np.int64, c
    for c in ["monthly_charges", "total_charges", "data_usage_gb"]:
        assert df[c].dtype == np.float64, c
    for c in [ds.ENTITY, *ds.CATEGORICAL_FEATURES, ds.SENSITIVE]:
        assert pd.api.types.is_string_dtype(df[c]) and not isinstance(df[c].dtype, pd.CategoricalDtype), c
        if c in ds.CATEGORIES:
            assert set(df[c]) == set(ds.CATEGORIES[c]), c
    assert not df.isna().any().any()
    assert ds.FEATURES == ds.NUMERIC_FEATURES + ds.CATEGORICAL_FEATURES
    assert ds.SENSITIVE not in ds.FEATURES and ds.TARGET not in ds.FEATURES


def test_value_ranges(clean: pd.DataFrame) -> None:
    assert clean["tenure_months"].min() >= 0
    assert clean["monthly_charges"].between(15, 150).all()
    assert clean["data_usage_gb"].min() >= 0
    assert clean["support_calls"].between(0, 15).all()
    assert clean["late_payments"].between(0, 6).all()
    assert clean["age"].between(18, 90).all()
    assert set(clean[ds.TARGET]) == {0, 1}
    for c in ["monthly_charges", "total_charges", "data_usage_gb"]:
        cents = clean[c] * 100
        assert np.allclose(cents, cents.round(), atol=1e-6), f"{c} has more than two decimals"
    ratio = clean["total_charges"] / ((clean["tenure_months"] + 1) * clean["monthly_charges"])
    assert ratio.between(0.6, 1.6).all() and abs(ratio.median() - 1) < 0.05


def test_keys_and_months(clean: pd.DataFrame) -> None:
    assert not clean.duplicated([ds.ENTITY, ds.TIMESTAMP]).any()
    assert clean[ds.ENTITY].str.fullmatch(r"C\d{6}").all()
    assert sorted(clean["month"].unique()) == ds.MONTHS
    assert ds.MONTHS[0] == "2025-01" and ds.MONTHS[-1] == "2026-06" and len(ds.MONTHS) == 18
    assert (clean[ds.TIMESTAMP] + pd.offsets.Day(1)).dt.day.eq(1).all(), "snapshot_date must be a month end"
    per_month = clean.groupby("month").size()
    assert per_month.between(900, 1100).all(), per_month.to_dict()


def test_panel_is_consistent(clean: pd.DataFrame) -> None:
    df = clean.sort_values([ds.ENTITY, ds.TIMESTAMP])
    index = df[ds.TIMESTAMP].dt.year * 12 + df[ds.TIMESTAMP].dt.month
    by = df.groupby(ds.ENTITY)
    gap = index.groupby(df[ds.ENTITY]).shift(-1) - index
    assert gap.dropna().eq(1).all(), "a customer skips a month"
    not_last = index < index.max()
    assert (df[ds.TARGET].eq(1) == gap.isna())[not_last].all(), "churned=1 must mean absent the next month"
    assert by["tenure_months"].diff().dropna().eq(1).all()
    billed = by["total_charges"].diff() - df["monthly_charges"]
    assert billed.dropna().abs().max() < 0.011, "total_charges must grow by each month's monthly_charges"
    for c in ["contract", "plan", "region", ds.SENSITIVE]:
        assert by[c].nunique().eq(1).all(), f"{c} changes within a customer"
    assert (by.size() > 1).mean() > 0.3, "the panel should repeat customers across months"


def test_target_rate(clean: pd.DataFrame) -> None:
    assert 0.20 <= clean[ds.TARGET].mean() <= 0.25
    assert clean.groupby("month")[ds.TARGET].mean().between(0.17, 0.28).all()
    by_contract = clean.groupby("contract")[ds.TARGET].mean()
    assert by_contract["month-to-month"] > by_contract["one-year"] > by_contract["two-year"]


def test_load_churn_filters_and_is_fast(clean: pd.DataFrame) -> None:
    start = time.perf_counter()
    ds.load_churn()
    assert time.perf_counter() - start < 0.5
    one = ds.load_churn("2025-10")
    assert set(one[ds.TIMESTAMP].dt.strftime("%Y-%m")) == {"2025-10"}
    assert len(one) == (clean["month"] == "2025-10").sum()
    span = ds.load_churn("2025-01:2025-06")
    assert sorted(span[ds.TIMESTAMP].dt.strftime("%Y-%m").unique()) == ds.MONTHS[:6]
    mixed = ds.load_churn(["2026-06", "2025-02:2025-03"])
    assert sorted(mixed[ds.TIMESTAMP].dt.strftime("%Y-%m").unique()) == ["2025-02", "2025-03", "2026-06"]
    assert mixed.index.equals(pd.RangeIndex(len(mixed)))


@pytest.mark.parametrize("bad", ["2024-12", "2026-07", "2025-1", "2025-13", "Jan 2025", "2025-06:2025-01",
                                 "2025-01:2027-01", [], ["2025-01", 3], 202501])
def test_load_churn_rejects_bad_months(bad: object) -> None:
    with pytest.raises(ValueError, match=r"2025-01|backwards"):
        ds.load_churn(bad)


# --------------------------------------------------------------------------- documented events


def test_stationary_before_the_covariate_drift(clean: pd.DataFrame) -> None:
    columns = ds.FEATURES + [ds.SENSITIVE]
    pvalues = drift_pvalues(window(clean, "2025-01:2025-03"), window(clean, "2025-07:2025-09"), columns)
    flagged = {c: p for c, p in pvalues.items() if p < ALPHA}
    assert not flagged, f"features drift before 2025-10: {flagged}"


def test_covariate_drift_from_2025_10(clean: pd.DataFrame, events: dict) -> None:
    drift = event(events, "covariate_drift")
    assert drift["start_month"] == "2025-10"
    before, after = window(clean, "2025-07:2025-09"), window(clean, "2025-10:2025-12")
    pvalues = drift_pvalues(before, after, ds.FEATURES)
    for c in drift["features"]:
        assert pvalues[c] < 1e-10, f"{c} should drift from 2025-10 (p={pvalues[c]:.2g})"
    derived = {"total_charges"}  # accumulates monthly_charges, so it follows the price rise slowly
    quiet = {c: p for c, p in pvalues.items() if c not in set(drift["features"]) | derived and p < ALPHA}
    assert not quiet, f"only {drift['features']} should drift in 2025-10: {quiet}"
    charges = after["monthly_charges"].mean() / before["monthly_charges"].mean()
    usage = after["data_usage_gb"].mean() / before["data_usage_gb"].mean()
    wallet = (after["payment_method"] == "e-wallet").mean() - (before["payment_method"] == "e-wallet").mean()
    assert 1.10 < charges < 1.20 and 1.30 < usage < 1.50 and wallet > 0.08, (charges, usage, wallet)


def test_covariate_drift_leaves_the_label_mechanism_alone(clean: pd.DataFrame, reference_model) -> None:
    for months in ["2025-07:2025-09", "2025-10:2026-02"]:
        part = window(clean, months)
        p = reference_model.predict_proba(part[ds.FEATURES])[:, 1]
        assert roc_auc_score(part[ds.TARGET], p) > 0.85, months
        assert abs(p.mean() - part[ds.TARGET].mean()) < 0.03, f"model miscalibrated in {months}"


def test_model_quality_is_realistic(clean: pd.DataFrame, reference_model) -> None:
    valid = window(clean, "2025-07:2025-09")
    auc = roc_auc_score(valid[ds.TARGET], reference_model.predict_proba(valid[ds.FEATURES])[:, 1])
    assert 0.80 <= auc <= 0.90, f"reference AUC {auc:.3f} outside the documented 0.80–0.90"


def test_concept_drift_from_2026_03(clean: pd.DataFrame, events: dict, reference_model) -> None:
    drift = event(events, "concept_drift")
    assert drift["start_month"] == "2026-03" and drift["label_mechanism_changed"]
    before, after = window(clean, "2025-10:2026-02"), window(clean, "2026-03:2026-06")
    results = {}
    for name, part in [("before", before), ("after", after)]:
        p = reference_model.predict_proba(part[ds.FEATURES])[:, 1]
        y, seg = part[ds.TARGET].to_numpy(), segment(part, drift).to_numpy()
        results[name] = {"auc": roc_auc_score(y, p), "seg_rate": y[seg].mean(),
                         "seg_gap": y[seg].mean() - p[seg].mean()}
    assert results["after"]["seg_rate"] > 3 * results["before"]["seg_rate"], results
    assert results["before"]["auc"] - results["after"]["auc"] > 0.015, results
    assert abs(results["before"]["seg_gap"]) < 0.05 < 0.2 < results["after"]["seg_gap"], results


def test_concept_drift_is_invisible_in_the_inputs_of_its_first_month(clean: pd.DataFrame) -> None:
    pvalues = drift_pvalues(window(clean, "2025-10:2026-02"), window(clean, "2026-03"), ds.FEATURES)
    assert min(pvalues.values()) > ALPHA, pvalues
    later = drift_pvalues(window(clean, "2025-10:2026-02"), window(clean, "2026-03:2026-06"), ds.FEATURES)
    assert min(later.values()) > ALPHA, f"documented: no feature flagged over 2026-03..06 either: {later}"


def test_gender_is_a_proxy_effect_only(clean: pd.DataFrame, reference_model) -> None:
    rates = clean.groupby(ds.SENSITIVE)[ds.TARGET].mean()
    assert 0.02 < rates["male"] - rates["female"] < 0.08, rates.to_dict()
    table = pd.crosstab(clean[ds.SENSITIVE], clean["payment_method"])
    assert stats.chi2_contingency(table).pvalue < 1e-10, "gender should be associated with payment_method"
    valid = window(clean, "2025-07:2025-09")
    flagged = pd.Series(reference_model.predict_proba(valid[ds.FEATURES])[:, 1] > 0.5).groupby(
        valid[ds.SENSITIVE].to_numpy()).mean()
    assert flagged["male"] - flagged["female"] > 0.02, flagged.to_dict()


# --------------------------------------------------------------------------- raw batches


def test_raw_batch_paths_and_formats(events: dict) -> None:
    paths = ds.raw_batch_paths()
    assert [p.stem for p in paths] == ds.MONTHS
    assert [p.suffix for p in paths] == [".csv"] * 12 + [".jsonl"] * 6
    assert ds.raw_batch_path("2026-01") == paths[12]
    assert events["raw_formats"] == {m: p.suffix[1:] for m, p in zip(ds.MONTHS, paths)}
    for line in paths[12].read_text().splitlines()[:5]:
        assert list(json.loads(line)) == ds.COLUMNS


def detect(raw: pd.DataFrame) -> dict[tuple[str, str], int]:
    """Count every kind of problem the datasheet documents, in one raw batch."""
    charges = raw["monthly_charges"].astype(str)
    ids = raw[ds.ENTITY]
    exact = int(raw.duplicated().sum())
    usage = pd.to_numeric(raw["data_usage_gb"])
    counts = {
        ("exact_duplicates", "*"): exact,
        ("conflicting_duplicates", ds.ENTITY): int(ids.duplicated().sum()) - exact,
        ("bad_type", "monthly_charges"): int(charges.str.fullmatch(r"\d+,\d\d").sum() + charges.eq("N/A").sum()),
        ("out_of_range", "age"): int((~pd.to_numeric(raw["age"]).between(18, 90)).sum()),
        ("out_of_range", "data_usage_gb"): int((usage < 0).sum()),
        ("unit_change", "data_usage_gb"): len(raw) if usage.median() > 100 else 0,
        ("inconsistent_category", "region"): int((~raw["region"].isin(ds.CATEGORIES["region"])).sum()),
    }
    for c in ds.COLUMNS:
        counts[("missing_values", c)] = int(raw[c].isna().sum())
    return counts


def test_raw_problems_are_where_documented_and_nowhere_else(events: dict) -> None:
    expected: dict[tuple[str, str, str], int] = {}
    for problem in events["raw_problems"]:
        key = (problem["month"], problem["kind"], problem["column"])
        expected[key] = expected.get(key, 0) + problem["count"]
        assert problem["count"] > 0 and problem["description"]
    assert {k[0] for k in expected} == {"2025-03", "2025-05", "2025-07", "2025-08", "2025-11", "2026-01", "2026-04"}
    for month in ds.MONTHS:
        found = detect(ds.read_raw_batch(month))
        for (kind, column), count in found.items():
            assert count == expected.get((month, kind, column), 0), (
                f"{month}: {count} {kind} in {column}, documented {expected.get((month, kind, column), 0)}")


def test_documented_sizes_of_the_problems(events: dict, clean: pd.DataFrame) -> None:
    by_key = {(p["month"], p["kind"], p["column"], p.get("variant")): p for p in events["raw_problems"]}
    rows = clean.groupby("month").size()
    assert abs(by_key[("2025-03", "missing_values", "tenure_months", None)]["count"] / rows["2025-03"] - 0.05) < 0.005
    assert abs(by_key[("2025-07", "exact_duplicates", "*", None)]["count"] / rows["2025-07"] - 0.02) < 0.005
    assert abs(by_key[("2026-01", "missing_values", "support_calls", None)]["count"] / rows["2026-01"] - 0.25) < 0.01
    assert by_key[("2026-01", "unit_change", "data_usage_gb", None)]["factor"] == 1024
    raw = ds.read_raw_batch("2025-05")
    na = by_key[("2025-05", "bad_type", "monthly_charges", "placeholder")]
    assert sorted(raw.loc[raw["monthly_charges"].eq("N/A"), ds.ENTITY]) == na["customer_ids"]


def repaired(month: str, events: dict) -> pd.DataFrame:
    """Undo the documented problems of one raw batch; what cannot be recovered becomes missing."""
    raw = ds.read_raw_batch(month).drop_duplicates().drop_duplicates(ds.ENTITY, keep="first")
    raw["monthly_charges"] = pd.to_numeric(
        raw["monthly_charges"].astype(str).str.replace(",", ".").replace("N/A", np.nan))
    raw["region"] = raw["region"].str.strip().str.lower()
    raw["data_usage_gb"] = pd.to_numeric(raw["data_usage_gb"]).abs()
    if any(p["month"] == month and p["kind"] == "unit_change" for p in events["raw_problems"]):
        raw["data_usage_gb"] = (raw["data_usage_gb"] / 1024).round(2)
    raw["age"] = pd.to_numeric(raw["age"]).where(lambda a: a.between(18, 90))
    return raw.sort_values(ds.ENTITY, kind="stable").reset_index(drop=True)


def test_raw_batches_derive_from_the_clean_table(clean: pd.DataFrame, events: dict) -> None:
    for month in ds.MONTHS:
        raw = repaired(month, events)
        truth = clean[clean["month"] == month][ds.COLUMNS].reset_index(drop=True)
        assert raw[ds.ENTITY].tolist() == truth[ds.ENTITY].tolist(), month
        assert (raw[ds.TIMESTAMP] == truth[ds.TIMESTAMP].dt.strftime("%Y-%m-%d")).all(), month
        for c in ds.COLUMNS[2:]:
            known = raw[c].notna()
            if pd.api.types.is_numeric_dtype(truth[c]):
                same = np.isclose(raw.loc[known, c].astype(float), truth.loc[known, c].astype(float), atol=0.006)
            else:
                same = (raw.loc[known, c] == truth.loc[known, c]).to_numpy()
            assert same.all(), f"{month}/{c}: raw values differ from the clean table"


def test_conflicting_rows_are_stale_copies(clean: pd.DataFrame, events: dict) -> None:
    (problem,) = [p for p in events["raw_problems"] if p["kind"] == "conflicting_duplicates"]
    raw = ds.read_raw_batch(problem["month"])
    twice = raw[raw[ds.ENTITY].duplicated(keep=False)]
    assert sorted(twice[ds.ENTITY].unique()) == problem["customer_ids"]
    first = twice.groupby(ds.ENTITY).nth(0).set_index(ds.ENTITY)
    second = twice.groupby(ds.ENTITY).nth(1).set_index(ds.ENTITY)
    assert (first["monthly_charges"] != second["monthly_charges"]).all()
    assert (first["support_calls"] != second["support_calls"]).all()


def test_read_raw_batch_reports_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="2025-01"):
        ds.read_raw_batch("2027-01")
    with pytest.raises(ValueError, match="one month"):
        ds.raw_batch_path("2025-01:2025-02")
    raw_dir = tmp_path / "datasets" / "churn" / "raw"
    raw_dir.mkdir(parents=True)
    (raw_dir / "2026-02.jsonl").write_text('{"customer_id": "C000001"}\n{"customer_id": \n')
    (raw_dir / "2026-03.jsonl").write_text('["not", "an", "object"]\n')
    (raw_dir / "2025-02.csv").write_text('a,b\n1,2\n"unterminated,3\n')
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(ValueError, match=r"2026-02\.jsonl, line 2"):
        ds.read_raw_batch("2026-02")
    with pytest.raises(ValueError, match=r"2026-03\.jsonl, line 1: expected a JSON object"):
        ds.read_raw_batch("2026-03")
    with pytest.raises(ValueError, match=r"2025-02\.csv"):
        ds.read_raw_batch("2025-02")
    with pytest.raises(FileNotFoundError, match="2025-01.csv"):
        ds.read_raw_batch("2025-01")


# --------------------------------------------------------------------------- annotations and events.json


def test_annotations(clean: pd.DataFrame, events: dict) -> None:
    notes = ds.load_annotations()
    assert list(notes.columns) == [ds.ENTITY, ds.TIMESTAMP, "annotator_a", "annotator_b", "annotator_c"]
    assert len(notes) == 600 and not notes.duplicated([ds.ENTITY, ds.TIMESTAMP]).any()
    assert all(str(notes[a].dtype) == "Int64" for a in ["annotator_a", "annotator_b", "annotator_c"])
    gold = notes.merge(clean[[ds.ENTITY, ds.TIMESTAMP, ds.TARGET]], on=[ds.ENTITY, ds.TIMESTAMP], how="left")
    assert gold[ds.TARGET].notna().all(), "every annotated customer-month must be in the clean table"
    assert sorted(gold[ds.TIMESTAMP].dt.strftime("%Y-%m").unique()) == events["annotations"]["months"]
    y = gold[ds.TARGET]
    errors = {}
    for name, documented in events["annotations"]["annotators"].items():
        said = gold[name]
        seen = said.notna()
        assert 0 < (~seen).sum() == documented["observed_empty"]
        errors[name] = (said[seen] != y[seen]).mean()
        assert errors[name] == pytest.approx(documented["observed_error_rate"], abs=1e-4)
        expected = documented["p_1_given_0"] * (1 - y.mean()) + documented["p_0_given_1"] * y.mean()
        assert abs(errors[name] - expected) < 0.04, (name, errors[name], expected)
    assert errors["annotator_a"] < errors["annotator_b"] < errors["annotator_c"]
    assert gold["annotator_c"].mean() > y.mean() + 0.1, "annotator_c should lean towards 1"
    votes = gold[["annotator_a", "annotator_b", "annotator_c"]].astype(float)
    ones, cast = votes.sum(axis=1), votes.notna().sum(axis=1)
    decided = ones * 2 != cast
    majority = (ones * 2 > cast).astype(int)
    vote_error = (majority[decided] != y[decided]).mean()
    assert vote_error < errors["annotator_c"] - 0.15 and vote_error < errors["annotator_b"], (vote_error, errors)


def test_events_json_describes_the_dataset(events: dict, clean: pd.DataFrame) -> None:
    assert events["seed"] == ds.SEED and events["months"] == ds.MONTHS and events["columns"] == ds.COLUMNS
    assert {e["kind"]: e["start_month"] for e in events["events"]} == {
        "covariate_drift": "2025-10", "data_quality_incident": "2026-01", "concept_drift": "2026-03"}
    assert events["rows_per_month"] == clean.groupby("month").size().to_dict()
    assert "gender" not in json.dumps(events["true_mechanism"]["log_odds_terms"])
    for problem in events["raw_problems"]:
        assert set(problem) >= {"month", "kind", "column", "count", "customer_ids", "description"}
        assert problem["month"] in ds.MONTHS
