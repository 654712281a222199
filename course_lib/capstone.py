"""Glue for the capstone: the starting platform, stages that survive a failed stage, and a scorecard.

The capstone runs the whole loop on the Northwind Mobile scenario. Its building blocks live in
the lifecycle modules (``lake``, ``feature_store``, ``registry``, ``deployment``, ``monitoring``,
``governance`` …); this module only holds what belongs to none of them:

* :func:`reference_steps` — the data pipeline's steps as module 01 wrote them (ingest, quality
  report, gate, clean), so the capstone's lake is filled the same way;
* :func:`feature_definitions` and :func:`build_model` — the features the platform computes in its
  feature store, and the model it trains on them;
* :func:`run_stage` — run a learner's step and, if it fails, a reference step instead, so that a
  stage that fails does not stop the stages after it from being tried and graded;
* :func:`plot_scorecard` — which stages the system state passes, as one figure.

Nothing happens at import; MLflow, scikit-learn and matplotlib are imported on use.

Introduced in 11-capstone.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from course_lib.datasets import CATEGORIES, ENTITY, FEATURES, NUMERIC_FEATURES, TARGET, TIMESTAMP

__all__ = [
    "StageResult", "run_stage", "reference_steps", "feature_definitions", "STORE_FEATURES",
    "build_model", "plot_scorecard",
]


# --------------------------------------------------------------------------- stages that fail softly
@dataclass
class StageResult:
    """What :func:`run_stage` did.

    Attributes:
        name: the stage's name.
        value: what the learner's step returned, or the reference step's value when it failed.
        own: True when ``value`` came from the learner's step.
        error: the learner's step's error (one line), or ``""``.

    Introduced in 11-capstone.
    """

    name: str
    value: Any
    own: bool
    error: str = ""


def run_stage(name: str, attempt: Callable[[], Any], fallback: Callable[[], Any]) -> StageResult:
    """Run ``attempt()``; if it raises, say so and run ``fallback()`` (a reference step) instead.

    The stages of a production loop depend on each other; in a lesson, one unfinished exercise
    should not stop the next ones from running. The check cells grade the learner's own result
    (``own`` is False when the fallback ran).

    Introduced in 11-capstone.
    """
    if not callable(attempt) or not callable(fallback):
        raise ValueError("run_stage(name, attempt, fallback) needs two callables taking no arguments.")
    try:
        return StageResult(name, attempt(), True)
    except Exception as error:  # noqa: BLE001 - any failure of the learner's step is reported, not raised
        where = traceback.extract_tb(error.__traceback__)[-1]
        message = f"{type(error).__name__}: {error}".splitlines()[0][:200]
        print(f"✗ stage '{name}' failed ({message}, line {where.lineno}); "
              "the reference step runs instead so that the next stages can still be tried.")
        return StageResult(name, fallback(), False, message)


# --------------------------------------------------------------------------- the data pipeline of 01-data
def _quality_report(frame: pd.DataFrame, month: str) -> pd.DataFrame:
    from course_lib.quality import (
        allowed_values, completeness, freshness, make_report, numeric_type, uniqueness, value_range,
    )

    return make_report(frame, [
        completeness(frame, [ENTITY, TIMESTAMP, *FEATURES, TARGET]),
        numeric_type(frame, NUMERIC_FEATURES),
        value_range(frame, "age", 18, 100),
        value_range(frame, "data_usage_gb", 0, 500),
        value_range(frame, "monthly_charges", 0, 1000),
        *[allowed_values(frame, column, CATEGORIES[column]) for column in CATEGORIES if column in FEATURES],
        uniqueness(frame, [ENTITY, TIMESTAMP]),
        freshness(frame, month),
    ])


def _gate(report: pd.DataFrame, max_failure_rate: float = 0.10) -> tuple[bool, str]:
    blocking = report[report["failure_rate"] > max_failure_rate]
    reasons = [f"{r.check} on {r.column} failed for {r.failure_rate:.1%} of rows" for r in blocking.itertuples()]
    return blocking.empty, "; ".join(reasons)


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.drop_duplicates(subset=[ENTITY, TIMESTAMP], keep="first").copy()
    out["monthly_charges"] = pd.to_numeric(out["monthly_charges"].astype(str).str.replace(",", ".", regex=False),
                                           errors="coerce")
    for column in NUMERIC_FEATURES:
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    out["region"] = out["region"].str.strip().str.lower()
    out.loc[~out["age"].between(18, 100), "age"] = np.nan
    out.loc[out["data_usage_gb"] < 0, "data_usage_gb"] = np.nan
    out[TIMESTAMP] = pd.to_datetime(out[TIMESTAMP])
    return out.reset_index(drop=True)


def _ingest(lake: Any, path: str | Path) -> str:
    from course_lib.lake import batch_name, read_batch, sha256_file

    sha, batch = sha256_file(path), batch_name(path)
    if "landed" in lake.statuses(sha):
        return "skipped"
    try:
        frame = read_batch(path)
    except ValueError as error:
        lake.store_quarantine(path, sha)
        lake.record(batch, sha, None, "quarantined", reason=str(error))
        return "quarantined"
    lake.store_raw(path, sha)
    lake.record(batch, sha, len(frame), "landed")
    return "landed"


def reference_steps() -> dict[str, Callable]:
    """The data pipeline's four steps as module 01 built them, for ``course_lib.lake.run_pipeline``.

    Returns ``{"ingest", "validate", "gate", "clean"}``: land a file once (quarantine it if it
    cannot be read), a quality report over completeness, types, ranges, categories, uniqueness
    and freshness, a gate that blocks a check failing on more than 10 % of rows, and the
    cleaning that makes a batch typed and one row per customer-month.

    Introduced in 11-capstone.
    """
    return {"ingest": _ingest, "validate": _quality_report, "gate": _gate, "clean": _clean}


# --------------------------------------------------------------------------- features and model
def _by_customer(frame: pd.DataFrame):
    return frame.groupby(ENTITY, sort=False)


_DEFINITIONS: dict[str, tuple[Callable[[pd.DataFrame], pd.Series], str, str]] = {
    **{name: ((lambda column: lambda f: f[column])(name), f"{name}, as billed this month", "billing-team")
       for name in NUMERIC_FEATURES},
    "month_to_month": (lambda f: (f["contract"] == "month-to-month").astype(float), "1 if no fixed term", "crm-team"),
    "two_year": (lambda f: (f["contract"] == "two-year").astype(float), "1 on a two-year contract", "crm-team"),
    "renewal_month": (lambda f: (((f["contract"] == "one-year") & (f["tenure_months"] % 12 == 11))
                                 | ((f["contract"] == "two-year") & (f["tenure_months"] % 24 == 23))).astype(float),
                      "1 in the last month of a fixed contract", "crm-team"),
    "risky_payment": (lambda f: f["payment_method"].isin(["e-wallet", "paper-check"]).astype(float),
                      "1 when paying by e-wallet or paper cheque", "billing-team"),
    "region_east": (lambda f: (f["region"] == "east").astype(float), "1 in the east region", "crm-team"),
    "premium_plan": (lambda f: (f["plan"] == "premium").astype(float), "1 on the premium plan", "crm-team"),
    "calls_last_3": (lambda f: f["support_calls"] + _by_customer(f)["support_calls"].shift(1).fillna(0)
                     + _by_customer(f)["support_calls"].shift(2).fillna(0),
                     "support calls over this and the two previous snapshots", "care-team"),
    "charge_change": (lambda f: _by_customer(f)["monthly_charges"].diff().fillna(0.0),
                      "bill minus the previous bill (0 in a first month)", "billing-team"),
}
STORE_FEATURES = list(_DEFINITIONS)


def feature_definitions() -> list:
    """The platform's feature definitions (``course_lib.feature_store.FeatureDefinition``), keyed by customer and month.

    The seven billed numbers, five flags for the contract, payment, region and plan, and two
    features that need history: ``calls_last_3`` and ``charge_change``. Each uses only the
    customer's snapshots up to the row's month.

    Introduced in 11-capstone.
    """
    from course_lib.feature_store import FeatureDefinition

    return [FeatureDefinition(name=name, entity=ENTITY, timestamp=TIMESTAMP, function=function,
                              description=description, owner=owner)
            for name, (function, description, owner) in _DEFINITIONS.items()]


def build_model(kind: str = "boosting", *, features: list[str] | None = None,
                params: Mapping[str, Any] | None = None, seed: int = 42):
    """The churn model on the store's features, as one scikit-learn pipeline.

    Args:
        kind: ``"boosting"`` (a small histogram gradient-boosting model, missing values handled
            natively) or ``"logistic"`` (median imputation, scaling, logistic regression).
        features: the input columns the model uses (default: all of ``STORE_FEATURES``). The
            pipeline accepts every store feature either way and ignores the others, so every
            version answers the same request.
        params: parameters of the classifier, on top of the defaults.
        seed: the classifier's ``random_state``.

    Introduced in 11-capstone.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    chosen = list(features) if features is not None else list(STORE_FEATURES)
    unknown = [f for f in chosen if f not in STORE_FEATURES]
    if unknown or not chosen:
        raise ValueError(f"features must be a non-empty subset of STORE_FEATURES; unknown: {unknown}.")
    select = ColumnTransformer([("keep", "passthrough", chosen)], remainder="drop")
    if kind == "boosting":
        settings = {"max_iter": 120, "learning_rate": 0.1, "max_leaf_nodes": 8, "min_samples_leaf": 40,
                    **(params or {})}
        steps = [("select", select), ("classifier", HistGradientBoostingClassifier(random_state=seed, **settings))]
    elif kind == "logistic":
        settings = {"C": 0.5, "max_iter": 1000, **(params or {})}
        steps = [("select", select), ("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                 ("classifier", LogisticRegression(random_state=seed, **settings))]
    else:
        raise ValueError(f"kind must be 'boosting' or 'logistic', not {kind!r}.")
    return Pipeline(steps)


# --------------------------------------------------------------------------- scorecard
def plot_scorecard(results: Mapping[str, bool | None], *, ax: Any = None):
    """Draw one tile per stage: green when the system state passes it, red when not, grey when not tried.

    Args:
        results: stage name -> True (passes), False (fails) or None (not checked), in loop order.
        ax: matplotlib axes to draw on (a new figure otherwise).

    Introduced in 11-capstone.
    """
    import matplotlib.pyplot as plt

    if not results:
        raise ValueError("plot_scorecard() needs at least one stage, e.g. {'ingest': True}.")
    names = list(results)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(1.25 * len(names) + 1, 14), 2.0))
    colours = {True: "#55a868", False: "#c44e52", None: "#bbbbbb"}
    for i, name in enumerate(names):
        state = results[name]
        ax.add_patch(plt.Rectangle((i + 0.05, 0.05), 0.9, 0.9, color=colours[state if state in colours else None]))
        ax.text(i + 0.5, 0.62, {True: "✓", False: "✗", None: "–"}.get(state, "–"), ha="center", va="center",
                fontsize=18, color="white")
        ax.text(i + 0.5, 0.25, name, ha="center", va="center", fontsize=8, color="white", wrap=True)
    ax.set_xlim(0, len(names))
    ax.set_ylim(0, 1)
    ax.axis("off")
    passed = sum(1 for v in results.values() if v is True)
    ax.set_title(f"Your platform passes {passed} of {len(names)} stages")
    return ax
