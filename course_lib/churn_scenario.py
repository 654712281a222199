"""The Northwind Mobile world: a seeded simulation of a customer panel and its annotators.

Read this to see exactly what is true in the data: who joins, what drives churn, the
drift events (a price rise and an e-wallet campaign from 2025-10, a competitor's offer
from 2026-03) and how noisy each annotator is. :mod:`course_lib.churn_export` turns the
simulated panel into the files in ``datasets/churn/``; :mod:`course_lib.datasets` loads them.

Introduced in 01-data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from course_lib.datasets import CATEGORIES, ENTITY, MONTHS, SENSITIVE, TARGET, TIMESTAMP

# --------------------------------------------------------------------------- the scenario

_COVARIATE_DRIFT = MONTHS.index("2025-10")
_INCIDENT = MONTHS.index("2026-01")  # also the first JSON-lines export
_CONCEPT_DRIFT = MONTHS.index("2026-03")
_PRICE_RISE = 1.15
_VIDEO_BUNDLE = 1.40
_WALLET_SWITCH = 0.12  # share of existing non-e-wallet customers moved to e-wallet in 2025-10
_OFFER_THRESHOLD = 65.0  # the competitor targets month-to-month bills above this …
_OFFER_MIN_TENURE = 3  # … of customers with Northwind for at least this many months …
_OFFER_UPTAKE = 0.35  # … and this share of them accepts each month
_BURN_IN = 240  # Northwind launched 240 months before 2025-01; the panel is in equilibrium by then
_TARGET_ACTIVE = 1000

# The true churn mechanism: log-odds terms (see _churn_probability and the datasheet).
_MECHANISM: dict = {
    "intercept": -0.7,
    "contract": {"month-to-month": 0.15, "one-year": 0.0, "two-year": -0.45},
    "log1p_tenure_capped_36": -0.9,
    "month_to_month_first_3_months": 0.15,
    "contract_renewal_month": 2.0,
    "support_calls_up_to_4": 0.45,
    "support_calls_above_4": 0.1,
    "month_to_month_per_call_up_to_4": 0.35,
    "late_payments": 0.2,
    "late_payments_2_or_more": 1.0,
    "monthly_charges_above_65": 0.005,
    "payment_method": {"card": 0.0, "bank-transfer": -0.1, "e-wallet": 0.55, "paper-check": 0.3},
    "region": {"north": 0.0, "south": 0.0, "east": 0.2, "west": 0.0},
    "log1p_data_usage_gb": -0.15,
    "data_usage_under_1gb": 1.0,
    "age_under_25": 0.5,
    "age_over_70": 0.5,
    "latent_sd": 0.25,
    "background_exit": 0.005,
}

# --------------------------------------------------------------------------- simulation


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _choice(rng: np.random.Generator, logits: np.ndarray) -> np.ndarray:
    """Draw one category index per row from unnormalised log-probabilities (rows × categories).

    The uniforms are stratified, so a cohort's mix is close to its expectation and the
    finite panel does not wander by chance (it is meant to be stationary before 2025-10).
    """
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    u = (rng.permutation(len(p)) + rng.random(len(p))) / max(len(p), 1)
    return (u[:, None] > cum[:, :-1]).sum(axis=1)


def _acquire(rng: np.random.Generator, n: int, t: int) -> dict[str, np.ndarray]:
    """Stable attributes of ``n`` customers who join in month index ``t`` (0 = 2025-01)."""
    male = (rng.random(n) < 0.49).astype(float)
    age = np.clip(np.round(rng.normal(43.0, 14.5, n)), 18, 85)
    older, young, old = (age >= 45).astype(float), (age < 30).astype(float), (age >= 62).astype(float)
    region = _choice(rng, np.log(np.tile([0.30, 0.25, 0.20, 0.25], (n, 1))))
    contract = _choice(rng, np.column_stack(
        [np.zeros(n), -0.75 + 0.4 * older - 0.35 * male, -1.15 + 0.5 * older - 0.35 * male]))
    plan = _choice(rng, np.tile([0.0, 0.15, -0.3], (n, 1)))
    # card, bank-transfer, e-wallet, paper-check: gender enters here (a proxy), never in the label
    wallet = np.column_stack([
        np.zeros(n),
        -0.05 - 0.45 * male,
        -1.0 + 1.2 * male + 0.6 * young - 0.9 * old + (0.8 if t >= _COVARIATE_DRIFT else 0.0),
        -1.05 - 0.2 * male + 1.3 * old - 0.8 * young,
    ])
    payment = _choice(rng, wallet)
    charge = rng.normal(np.array([30.0, 62.0, 93.0])[plan], np.array([6.0, 9.0, 11.0])[plan])
    usage = np.exp(rng.normal(np.log(np.array([3.0, 8.0, 18.0])[plan]) - 0.012 * (age - 40), 0.45))
    return {
        "male": male, "age0": age, "region": region, "contract": contract, "plan": plan,
        "payment": payment, "charge_base": np.clip(charge, 16.0, 128.0), "usage_base": usage,
        "call_rate": rng.gamma(1.6, 0.85, n) * np.array([1.15, 1.0, 0.7])[plan],
        "late_frailty": rng.gamma(2.0, 0.5, n),
        "latent": rng.normal(0.0, _MECHANISM["latent_sd"], n),
        "join": np.full(n, t),
    }


def _churn_probability(f: dict[str, np.ndarray], t: int) -> np.ndarray:
    """The true probability of leaving within the next month; gender does not enter it.

    A logistic model of the features plus an unobserved per-customer satisfaction,
    combined with a small background of exits no feature explains and, from 2026-03,
    the competitor's offer, which established month-to-month customers with high
    bills accept whatever their history.
    """
    c = _MECHANISM
    m2m = (f["contract"] == 0).astype(float)
    tenure, calls, late = f["tenure"], f["calls"], f["late"]
    # last month of a one-year (two-year) contract: free to leave without a fee
    renewal = ((f["contract"] == 1) & (tenure % 12 == 11)) | ((f["contract"] == 2) & (tenure % 24 == 23))
    z = (
        c["intercept"]
        + np.array([c["contract"][k] for k in CATEGORIES["contract"]])[f["contract"]]
        + c["log1p_tenure_capped_36"] * np.log1p(np.minimum(tenure, 36))
        + c["month_to_month_first_3_months"] * m2m * (tenure < 3)
        + c["contract_renewal_month"] * renewal
        + c["support_calls_up_to_4"] * np.minimum(calls, 4)
        + c["support_calls_above_4"] * np.maximum(calls - 4, 0)
        + c["month_to_month_per_call_up_to_4"] * m2m * np.minimum(calls, 4)
        + c["late_payments"] * late
        + c["late_payments_2_or_more"] * (late >= 2)
        + c["monthly_charges_above_65"] * (f["charges"] - 65.0)
        + np.array([c["payment_method"][k] for k in CATEGORIES["payment_method"]])[f["payment"]]
        + np.array([c["region"][k] for k in CATEGORIES["region"]])[f["region"]]
        + c["log1p_data_usage_gb"] * np.log1p(f["usage"])
        + c["data_usage_under_1gb"] * (f["usage"] < 1.0)
        + c["age_under_25"] * (f["age"] < 25)
        + c["age_over_70"] * (f["age"] > 70)
        + f["latent"]
    )
    stay = (1.0 - c["background_exit"]) * (1.0 - _sigmoid(z))
    if t >= _CONCEPT_DRIFT:
        targeted = m2m * (f["charges"] > _OFFER_THRESHOLD) * (tenure >= _OFFER_MIN_TENURE)
        stay = stay * (1.0 - _OFFER_UPTAKE * targeted)
    return 1.0 - stay


def _simulate(rng: np.random.Generator, with_truth: bool = False) -> pd.DataFrame:
    """Simulate the panel from Northwind's launch and return the clean table for MONTHS.

    ``with_truth`` adds the true churn probability as a ``p_true`` column (never shipped).
    """
    cap = 200_000  # customers ever acquired, burn-in included (about 60,000 are used)
    cust: dict[str, np.ndarray] = {}
    billed, late_ring = np.zeros(cap), np.zeros((cap, 6))
    active, n_cust, inflow, budget = np.zeros(0, dtype=np.int64), 0, [], 0.0
    records = []
    for t in range(-_BURN_IN, len(MONTHS)):
        if t == -_BURN_IN:
            n_new = _TARGET_ACTIVE
        elif t < 0:  # burn-in: sales refill the base to its target size
            n_new = max(0, round(_TARGET_ACTIVE - len(active) + np.clip(rng.normal(0.0, 15.0), -40, 40)))
        else:  # recorded months: a fixed sales budget, so extra churn shrinks the base
            budget = budget or float(np.mean(inflow[-24:]))
            n_new = round(budget + np.clip(rng.normal(0.0, 12.0), -30, 30))
        inflow.append(n_new)
        for key, values in _acquire(rng, n_new, t).items():
            cust.setdefault(key, np.zeros(cap, dtype=values.dtype))[n_cust:n_cust + n_new] = values
        a = np.concatenate([active, np.arange(n_cust, n_cust + n_new)])
        n_cust, n = n_cust + n_new, len(a)
        if t == _COVARIATE_DRIFT:  # the app campaign moves some existing customers to e-wallet
            movable = a[(cust["join"][a] < t) & (cust["payment"][a] != 2)]
            cust["payment"][movable[rng.random(len(movable)) < _WALLET_SWITCH]] = 2
        drifted = t >= _COVARIATE_DRIFT
        f = {key: cust[key][a] for key in ("contract", "plan", "payment", "region", "latent")}
        f["tenure"] = t - cust["join"][a]
        f["age"] = np.minimum(cust["age0"][a] + f["tenure"] // 12, 90)
        charges = cust["charge_base"][a] * (_PRICE_RISE if drifted else 1.0) + rng.normal(0.0, 2.5, n)
        f["charges"] = np.round(np.clip(charges, 15.0, 150.0), 2)
        usage = cust["usage_base"][a] * np.exp(rng.normal(0.0, 0.3, n)) * (_VIDEO_BUNDLE if drifted else 1.0)
        f["usage"] = np.round(usage, 2)
        f["calls"] = np.minimum(rng.poisson(cust["call_rate"][a] + np.where(f["tenure"] < 2, 0.6, 0.0)), 15)
        p_late = np.array([0.035, 0.03, 0.06, 0.13])[f["payment"]] * cust["late_frailty"][a]
        late_ring[a, t % 6] = rng.random(n) < np.minimum(p_late, 0.6)
        f["late"] = late_ring[a].sum(axis=1)  # late payments in the last six bills
        billed[a] += f["charges"]
        f["total"] = np.round(billed[a], 2)
        f["p_true"] = _churn_probability(f, t)
        f["y"] = rng.random(n) < f["p_true"]
        if t >= 0:
            records.append({**f, "row": a, "male": cust["male"][a], "month": np.full(n, t)})
        active = a[~f["y"]]

    df = pd.DataFrame({key: np.concatenate([r[key] for r in records]) for key in records[0]})
    first_seen = df.groupby("row")["month"].min().sort_values(kind="stable")  # ties: join order
    ids = {row: f"C{i + 1:06d}" for i, row in enumerate(first_seen.index)}
    month_ends = [pd.Period(m, freq="M").end_time.date().isoformat() for m in MONTHS]
    out = pd.DataFrame({
        ENTITY: df["row"].map(ids),
        TIMESTAMP: [month_ends[m] for m in df["month"]],
        "tenure_months": df["tenure"].astype(np.int64),
        "contract": np.array(CATEGORIES["contract"])[df["contract"]],
        "plan": np.array(CATEGORIES["plan"])[df["plan"]],
        "payment_method": np.array(CATEGORIES["payment_method"])[df["payment"]],
        "region": np.array(CATEGORIES["region"])[df["region"]],
        "monthly_charges": df["charges"],
        "total_charges": df["total"],
        "data_usage_gb": df["usage"],
        "support_calls": df["calls"].astype(np.int64),
        "late_payments": df["late"].astype(np.int64),
        "age": df["age"].astype(np.int64),
        SENSITIVE: np.where(df["male"] > 0, "male", "female"),
        TARGET: df["y"].astype(np.int64),
    })
    if with_truth:
        out["p_true"] = df["p_true"]
    return out.sort_values([TIMESTAMP, ENTITY], kind="stable").reset_index(drop=True)



def _pick(rng: np.random.Generator, n: int, k: int) -> list[int]:
    """``k`` distinct row positions out of ``n``, sorted."""
    return sorted(int(i) for i in rng.choice(n, size=k, replace=False))


# --------------------------------------------------------------------------- annotations

_ANNOTATED_MONTHS = ["2025-02", "2025-04", "2025-06", "2025-08", "2025-10", "2025-12"]
_ANNOTATED_PER_MONTH = 100
_ANNOTATOR_NOISE = {  # P(says 1 | truth 0), P(says 0 | truth 1), P(left empty)
    "annotator_a": (0.08, 0.08, 0.02),
    "annotator_b": (0.15, 0.15, 0.04),
    "annotator_c": (0.33, 0.15, 0.06),
}


def _annotations(clean: pd.DataFrame, rng: np.random.Generator) -> tuple[list[dict], dict]:
    """Sample customer-months and label them three times with documented noise."""
    month = clean[TIMESTAMP].str[:7]
    picked = []
    for m in _ANNOTATED_MONTHS:
        index = clean.index[month == m]
        picked += list(index[_pick(rng, len(index), _ANNOTATED_PER_MONTH)])
    gold = clean.loc[picked]
    y = gold[TARGET].to_numpy()
    rows = [{ENTITY: c, TIMESTAMP: d} for c, d in zip(gold[ENTITY], gold[TIMESTAMP])]
    stats = {}
    for name, (p01, p10, p_empty) in _ANNOTATOR_NOISE.items():
        label = np.where(rng.random(len(y)) < np.where(y == 1, p10, p01), 1 - y, y)
        empty = rng.random(len(y)) < p_empty
        for row, value, skip in zip(rows, label, empty):
            row[name] = None if skip else int(value)
        stats[name] = {"p_1_given_0": p01, "p_0_given_1": p10, "p_empty": p_empty,
                       "observed_empty": int(empty.sum()),
                       "observed_error_rate": round(float((label[~empty] != y[~empty]).mean()), 4)}
    return rows, stats
