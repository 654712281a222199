"""Exporting the simulated panel as the files a data team would receive.

The clean table, one raw batch per month as the billing system exported it (CSV, then
JSON lines from 2026-01) with the documented quality problems injected into named
months, the annotators' labels and ``events.json``, the machine-readable record of
everything that was injected. Byte-identical on every run and machine.

Introduced in 01-data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from course_lib.churn_scenario import (
    _ANNOTATED_MONTHS, _CONCEPT_DRIFT, _COVARIATE_DRIFT, _INCIDENT, _MECHANISM, _OFFER_MIN_TENURE,
    _OFFER_THRESHOLD, _OFFER_UPTAKE, _PRICE_RISE, _VIDEO_BUNDLE, _WALLET_SWITCH, _annotations, _pick, _simulate,
)
from course_lib.datasets import (
    _ANNOTATORS, CATEGORIES, COLUMNS, ENTITY, MONTHS, SEED, SENSITIVE, TARGET, TIMESTAMP, _raw_format,
)

__all__ = ["generate_churn"]

# --------------------------------------------------------------------------- raw batches

_MISSING_TENURE = ("2025-03", 0.05)  # month, share of rows with tenure_months empty
_BAD_CHARGES = ("2025-05", 24, 9)  # month, decimal-comma amounts, "N/A" amounts
_EXACT_DUPLICATES = ("2025-07", 0.02)  # month, share of rows sent twice
_OUT_OF_RANGE = ("2025-08", 5, 4, 12)  # month, age 0, age 150, negative data_usage_gb
_CONFLICTING = ("2025-11", 8)  # month, customers with a second, stale row
_NULL_CALLS = 0.25  # share of rows with support_calls null in the incident batch
_MB_PER_GB = 1024
_BAD_REGION = ("2026-04", 15)  # month, rows with a badly spelled region



def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of plain Python values (dates as ISO strings), in column order."""
    rows = frame[COLUMNS].astype(object).to_dict("records")
    for row in rows:
        for key, value in row.items():
            if isinstance(value, np.integer):
                row[key] = int(value)
            elif isinstance(value, np.floating):
                row[key] = float(value)
    return rows



def _split(rng: np.random.Generator, n: int, k1: int, k2: int) -> tuple[list[int], list[int]]:
    """Two disjoint sorted sets of ``k1`` and ``k2`` row positions out of ``n``."""
    idx = [int(i) for i in rng.choice(n, size=k1 + k2, replace=False)]
    return sorted(idx[:k1]), sorted(idx[k1:])


def _problem(month: str, kind: str, column: str, rows: list[dict], description: str, **extra) -> dict:
    return {"month": month, "kind": kind, "column": column, "count": len(rows),
            "customer_ids": sorted({r[ENTITY] for r in rows}), "description": description, **extra}


def _inject(month: str, rows: list[dict], rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """Return a month's rows as the exporter delivered them, and the problems put in."""
    n, problems = len(rows), []
    if month == _MISSING_TENURE[0]:
        hit = [rows[i] for i in _pick(rng, n, round(_MISSING_TENURE[1] * n))]
        for r in hit:
            r["tenure_months"] = None
        problems.append(_problem(month, "missing_values", "tenure_months", hit,
                                 "tenure_months left empty by the CRM export"))
    if month == _BAD_CHARGES[0]:
        comma_idx, na_idx = _split(rng, n, _BAD_CHARGES[1], _BAD_CHARGES[2])
        comma, na = [rows[i] for i in comma_idx], [rows[i] for i in na_idx]
        for r in comma:
            r["monthly_charges"] = f"{r['monthly_charges']:.2f}".replace(".", ",")
        for r in na:
            r["monthly_charges"] = "N/A"
        problems.append(_problem(month, "bad_type", "monthly_charges", comma,
                                 'decimal comma instead of a point, e.g. "49,90"', variant="decimal_comma"))
        problems.append(_problem(month, "bad_type", "monthly_charges", na,
                                 'the text "N/A" where the amount was not yet billed',
                                 variant="placeholder", value="N/A"))
    if month == _EXACT_DUPLICATES[0]:
        copies = [dict(rows[i]) for i in _pick(rng, n, round(_EXACT_DUPLICATES[1] * n))]
        for r in copies:  # re-sent rows land anywhere in the file
            rows.insert(int(rng.integers(0, len(rows) + 1)), r)
        problems.append(_problem(month, "exact_duplicates", "*", copies,
                                 "whole rows sent twice; count is the number of extra rows"))
    if month == _OUT_OF_RANGE[0]:
        zero_idx, old_idx = _split(rng, n, _OUT_OF_RANGE[1], _OUT_OF_RANGE[2])
        for i in zero_idx:
            rows[i]["age"] = 0
        for i in old_idx:
            rows[i]["age"] = 150
        negative = [rows[i] for i in _pick(rng, n, _OUT_OF_RANGE[3])]
        for r in negative:
            r["data_usage_gb"] = -r["data_usage_gb"]
        problems.append(_problem(month, "out_of_range", "age", [rows[i] for i in sorted(zero_idx + old_idx)],
                                 "age 0 (birth date unknown) or 150 (placeholder)",
                                 values={"0": len(zero_idx), "150": len(old_idx)}))
        problems.append(_problem(month, "out_of_range", "data_usage_gb", negative,
                                 "negative data usage: sign flipped by a billing correction"))
    if month == _CONFLICTING[0]:
        stale = [dict(rows[i]) for i in _pick(rng, n, _CONFLICTING[1])]
        for r in stale:  # a retry appended copies cached before the 2025-10 price rise
            r["monthly_charges"] = round(r["monthly_charges"] / _PRICE_RISE, 2)
            r["support_calls"] = min(r["support_calls"] + 1 + int(rng.integers(0, 3)), 15)
        rows.extend(stale)
        problems.append(_problem(month, "conflicting_duplicates", ENTITY, stale,
                                 "a customer_id appears twice with different monthly_charges and "
                                 "support_calls; the second (appended) row is a stale copy, the first is "
                                 "correct; count is the number of extra rows",
                                 differing_columns=["monthly_charges", "support_calls"]))
    if MONTHS.index(month) == _INCIDENT:
        for r in rows:
            r["data_usage_gb"] = round(r["data_usage_gb"] * _MB_PER_GB, 2)
        problems.append(_problem(month, "unit_change", "data_usage_gb", rows,
                                 "the new JSON exporter wrote megabytes into data_usage_gb",
                                 factor=_MB_PER_GB))
        hit = [rows[i] for i in _pick(rng, n, round(_NULL_CALLS * n))]
        for r in hit:
            r["support_calls"] = None
        problems.append(_problem(month, "missing_values", "support_calls", hit,
                                 "the new JSON exporter wrote null support_calls"))
    if month == _BAD_REGION[0]:
        hit = [rows[i] for i in _pick(rng, n, _BAD_REGION[1])]
        spellings = [str.title, str.upper, lambda v: f" {v}", lambda v: f"{v} "]
        for i, r in enumerate(hit):
            r["region"] = spellings[i % len(spellings)](r["region"])
        problems.append(_problem(month, "inconsistent_category", "region", hit,
                                 'region typed by hand in a new sales tool: capitals and stray spaces, '
                                 'e.g. "North", "SOUTH", " east"', valid=CATEGORIES["region"]))
    return rows, problems


def _csv_text(rows: list[dict], columns: list[str]) -> str:
    def cell(value: object) -> str:
        text = "" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
        return f'"{text}"' if ("," in text or text != text.strip()) else text

    return "".join(",".join(cell(r[c]) for c in columns) + "\n" for r in [dict(zip(columns, columns)), *rows])


def _jsonl_text(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows)



# --------------------------------------------------------------------------- events.json


def _mean(values: pd.Series) -> float:
    return round(float(values.mean()), 4)


def _events(clean: pd.DataFrame, problems: list[dict], annotator_stats: dict, n_annotations: int) -> dict:
    month = clean[TIMESTAMP].str[:7]
    before = clean[month.isin(MONTHS[6:_COVARIATE_DRIFT])]  # 2025-07..09
    between = clean[month.isin(MONTHS[_COVARIATE_DRIFT:_CONCEPT_DRIFT])]  # 2025-10..2026-02
    after = clean[month.isin(MONTHS[_CONCEPT_DRIFT:])]  # 2026-03..06

    def targeted(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[(frame["contract"] == "month-to-month") & (frame["monthly_charges"] > _OFFER_THRESHOLD)
                     & (frame["tenure_months"] >= _OFFER_MIN_TENURE)]

    return {
        "dataset": "Northwind Mobile churn (synthetic)",
        "licence": "CC0-1.0",
        "generator": "python -m course_lib.datasets",
        "seed": SEED,
        "months": MONTHS,
        "entity": ENTITY, "timestamp": TIMESTAMP, "target": TARGET, "sensitive": SENSITIVE,
        "columns": COLUMNS,
        "categories": CATEGORIES,
        "clean_file": "churn.csv",
        "raw_files": {m: f"raw/{m}.{_raw_format(m)}" for m in MONTHS},
        "raw_formats": {m: _raw_format(m) for m in MONTHS},
        "rows_per_month": {m: int(v) for m, v in clean.groupby(month).size().items()},
        "churn_rate_per_month": {m: round(float(v), 4) for m, v in clean.groupby(month)[TARGET].mean().items()},
        "true_mechanism": {
            "formula": "P(churned=1) = 1 - (1 - background_exit) * (1 - sigmoid(z)) * (1 - offer), where z sums "
                       "the log-odds terms below plus a per-customer latent N(0, latent_sd), and offer is "
                       "the competitor's uptake for targeted customers from 2026-03 (else 0). Gender does "
                       "not enter.",
            "log_odds_terms": _MECHANISM,
        },
        "events": [
            {
                "id": "price-rise-video-bundle",
                "kind": "covariate_drift",
                "layer": "clean and raw",
                "start_month": MONTHS[_COVARIATE_DRIFT],
                "end_month": None,
                "features": ["monthly_charges", "data_usage_gb", "payment_method"],
                "label_mechanism_changed": False,
                "description": f"Prices rise {_PRICE_RISE - 1:.0%}, a video bundle raises data use "
                               f"{_VIDEO_BUNDLE - 1:.0%}, and an app campaign moves {_WALLET_SWITCH:.0%} of "
                               "existing customers (and more of the new ones) to e-wallet payment. "
                               "P(churned | features) is unchanged; churn rises slightly because the "
                               "features moved.",
                "expected": {
                    "monthly_charges": {"direction": "up", "mean_ratio": _PRICE_RISE},
                    "data_usage_gb": {"direction": "up", "mean_ratio": _VIDEO_BUNDLE},
                    "payment_method": {"direction": "e-wallet share up"},
                },
                "observed": {
                    "windows": ["2025-07..2025-09", "2025-10..2026-02"],
                    "monthly_charges_mean": [_mean(before["monthly_charges"]), _mean(between["monthly_charges"])],
                    "data_usage_gb_mean": [_mean(before["data_usage_gb"]), _mean(between["data_usage_gb"])],
                    "e_wallet_share": [_mean(before["payment_method"] == "e-wallet"),
                                       _mean(between["payment_method"] == "e-wallet")],
                },
            },
            {
                "id": "json-exporter-incident",
                "kind": "data_quality_incident",
                "layer": "raw",
                "start_month": MONTHS[_INCIDENT],
                "end_month": MONTHS[_INCIDENT],
                "features": ["data_usage_gb", "support_calls"],
                "description": "The billing export moved from CSV to JSON lines with 2026-01. That first JSON "
                               "export wrote data usage in MB into data_usage_gb (x1024) and left "
                               "support_calls null in a quarter of the rows; it was fixed for 2026-02. The "
                               "clean table holds the correct values. Details in raw_problems.",
            },
            {
                "id": "competitor-offer",
                "kind": "concept_drift",
                "layer": "clean and raw",
                "start_month": MONTHS[_CONCEPT_DRIFT],
                "end_month": None,
                "features": ["contract", "monthly_charges", "tenure_months"],
                "label_mechanism_changed": True,
                "segment": {"contract": "month-to-month", "monthly_charges_above": _OFFER_THRESHOLD,
                            "tenure_months_at_least": _OFFER_MIN_TENURE},
                "uptake_per_month": _OFFER_UPTAKE,
                "description": f"A competitor's switching offer: each month {_OFFER_UPTAKE:.0%} of "
                               f"month-to-month customers who pay more than {_OFFER_THRESHOLD:g} a month and "
                               f"have been with Northwind at least {_OFFER_MIN_TENURE} months leave, whatever "
                               "else their history says. How the features are generated does not change; "
                               "P(churned | features) does.",
                "expected": {"segment_churn_rate": "up sharply", "overall_churn_rate": "up a little",
                             "covariates": "unchanged in 2026-03; a slight thinning of the segment later"},
                "observed": {
                    "windows": ["2025-10..2026-02", "2026-03..2026-06"],
                    "segment_churn_rate": [_mean(targeted(between)[TARGET]), _mean(targeted(after)[TARGET])],
                    "segment_share_of_rows": [round(len(targeted(between)) / len(between), 4),
                                              round(len(targeted(after)) / len(after), 4)],
                    "overall_churn_rate": [_mean(between[TARGET]), _mean(after[TARGET])],
                },
            },
        ],
        "raw_problems": problems,
        "annotations": {
            "file": "annotations.csv",
            "rows": n_annotations,
            "months": _ANNOTATED_MONTHS,
            "gold_label": "churned in churn.csv for the same customer_id and snapshot_date",
            "annotators": annotator_stats,
        },
    }


# --------------------------------------------------------------------------- generating


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return path


def generate_churn(out_dir: Path | str) -> list[Path]:
    """Write every file of the churn dataset under ``out_dir/churn/`` and return their paths, sorted.

    The bytes are the same on every run and machine: seeded generators, amounts
    written with two decimals, a stable row order, ``\\n`` line endings and sorted
    JSON keys. Only the dataset's own files are written; nothing else is removed.

    Introduced in 00-foundations.
    """
    root = Path(out_dir) / "churn"
    clean = _simulate(np.random.default_rng([SEED, 1]))
    written = [_write(root / "churn.csv", _csv_text(_records(clean), COLUMNS))]

    raw_rng, problems = np.random.default_rng([SEED, 2]), []
    month = clean[TIMESTAMP].str[:7]
    for m in MONTHS:
        rows, injected = _inject(m, _records(clean[month == m]), raw_rng)
        problems += injected
        text = _jsonl_text(rows) if _raw_format(m) == "jsonl" else _csv_text(rows, COLUMNS)
        written.append(_write(root / "raw" / f"{m}.{_raw_format(m)}", text))

    notes, annotator_stats = _annotations(clean, np.random.default_rng([SEED, 3]))
    written.append(_write(root / "annotations.csv", _csv_text(notes, [ENTITY, TIMESTAMP, *_ANNOTATORS])))
    events = _events(clean, problems, annotator_stats, len(notes))
    written.append(_write(root / "events.json", json.dumps(events, indent=2, sort_keys=True) + "\n"))
    return sorted(written)
