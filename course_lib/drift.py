"""Data and feature drift with real statistics: KS, chi-square, PSI, and a per-feature report.

A monitoring job compares the inputs a model sees now (the *current* window) with the
inputs it was trained on (the *reference* window), one feature at a time:

* :func:`ks_test` — two-sample Kolmogorov–Smirnov for a numeric feature: the largest gap
  between the two empirical distribution functions, and its p-value;
* :func:`chi2_test` — chi-square test of homogeneity for a categorical feature: are the
  category shares the same in both windows?
* :func:`psi` — the Population Stability Index, an effect size (how *much* a distribution
  moved) rather than a test (how *sure* we are that it moved);
* :func:`adjust_p_values` — Holm or Benjamini–Hochberg correction, because eleven tests at
  α = 0.05 raise a false alarm in about 43 % of perfectly stable months;
* :func:`drift_report` — all of it, one row per feature;
* :func:`domain_classifier_auc` — a multivariate check: can a classifier tell the two
  windows apart from the inputs? (0.5 = no.)

Nothing happens at import; scipy and scikit-learn are imported by the functions that use them.

Introduced in 09-monitoring.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["ks_test", "chi2_test", "psi", "adjust_p_values", "drift_report", "domain_classifier_auc", "plot_drift"]

_CORRECTIONS = ("holm", "bh", "none")
_EPSILON = 1e-4  # share given to an empty bin so that log(0) never happens


def _values(data: Any, what: str) -> pd.Series:
    series = pd.Series(np.asarray(data)) if not isinstance(data, pd.Series) else data
    series = series.dropna()
    if series.empty:
        raise ValueError(f"The {what} sample is empty (or only missing values): a drift test needs data on both sides.")
    return series.reset_index(drop=True)


def ks_test(reference: Any, current: Any) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov test of a numeric feature; returns ``(statistic, p_value)``.

    The statistic is the largest vertical gap between the two empirical CDFs (0 to 1).
    Missing values are dropped. The p-value is exact for small samples and asymptotic once
    both have more than 500 values (the exact computation grows with the product of the sizes).

    >>> ks_test([1, 2, 3, 4], [1, 2, 3, 4])
    (0.0, 1.0)

    Introduced in 09-monitoring.
    """
    from scipy import stats

    ref, cur = _values(reference, "reference"), _values(current, "current")
    if not (pd.api.types.is_numeric_dtype(ref) and pd.api.types.is_numeric_dtype(cur)):
        raise ValueError("ks_test() compares numeric samples; use chi2_test() for categories.")
    method = "asymp" if min(len(ref), len(cur)) > 500 else "auto"
    result = stats.ks_2samp(ref.to_numpy(float), cur.to_numpy(float), method=method)
    return float(result.statistic), float(result.pvalue)


def chi2_test(reference: Any, current: Any) -> tuple[float, float]:
    """Chi-square test that a categorical feature has the same shares in both samples.

    Builds the 2 × k contingency table (window × category, categories seen in either
    window) and returns ``(statistic, p_value)``; a feature with one category in both
    windows returns ``(0.0, 1.0)``.

    Introduced in 09-monitoring.
    """
    from scipy import stats

    ref, cur = _values(reference, "reference").astype(str), _values(current, "current").astype(str)
    categories = sorted(set(ref) | set(cur))
    if len(categories) < 2:
        return 0.0, 1.0
    table = np.array([ref.value_counts().reindex(categories, fill_value=0).to_numpy(),
                      cur.value_counts().reindex(categories, fill_value=0).to_numpy()])
    statistic, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    return float(statistic), float(p_value)


def psi(reference: Any, current: Any, bins: int = 10) -> float:
    """Population Stability Index of ``current`` against ``reference``.

    Numeric features are cut into ``bins`` quantile bins of the *reference* (so each holds
    about 1/bins of it; the outer edges are open); categorical ones use their categories.
    ``PSI = Σ (cur% − ref%) · ln(cur% / ref%)``, with empty bins given a share of 1e-4.
    Rules of thumb: < 0.1 stable, 0.1–0.25 moderate shift, > 0.25 large shift.

    Introduced in 09-monitoring.
    """
    if not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}.")
    ref, cur = _values(reference, "reference"), _values(current, "current")
    if pd.api.types.is_numeric_dtype(ref) and pd.api.types.is_numeric_dtype(cur):
        edges = np.unique(np.quantile(ref.to_numpy(float), np.linspace(0, 1, bins + 1)[1:-1]))
        ref_counts = np.bincount(np.searchsorted(edges, ref.to_numpy(float), side="right"), minlength=len(edges) + 1)
        cur_counts = np.bincount(np.searchsorted(edges, cur.to_numpy(float), side="right"), minlength=len(edges) + 1)
    else:
        categories = sorted(set(ref.astype(str)) | set(cur.astype(str)))
        ref_counts = ref.astype(str).value_counts().reindex(categories, fill_value=0).to_numpy()
        cur_counts = cur.astype(str).value_counts().reindex(categories, fill_value=0).to_numpy()
    ref_share = np.clip(ref_counts / ref_counts.sum(), _EPSILON, None)
    cur_share = np.clip(cur_counts / cur_counts.sum(), _EPSILON, None)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def adjust_p_values(p_values: Sequence[float], method: str = "holm") -> np.ndarray:
    """Correct p-values for testing several features at once.

    ``"holm"`` controls the family-wise error rate (the chance of *any* false alarm);
    ``"bh"`` (Benjamini–Hochberg) controls the false discovery rate (the share of false
    alarms among the alarms); ``"none"`` returns them unchanged. Compare the result with α.

    >>> adjust_p_values([0.01, 0.04, 0.03], "holm").round(2).tolist()
    [0.03, 0.06, 0.06]

    Introduced in 09-monitoring.
    """
    if method not in _CORRECTIONS:
        raise ValueError(f"Unknown correction {method!r}; use one of {list(_CORRECTIONS)}.")
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError("p_values must be a flat sequence of numbers between 0 and 1.")
    if method == "none" or p.size == 0:
        return p.copy()
    if method == "bh":
        from scipy import stats

        return np.asarray(stats.false_discovery_control(p, method="bh"), dtype=float)
    order = np.argsort(p)
    scaled = np.maximum.accumulate((p.size - np.arange(p.size)) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(scaled, 1.0)
    return adjusted


def drift_report(reference: pd.DataFrame, current: pd.DataFrame, *, features: Sequence[str] | None = None,
                 alpha: float = 0.05, correction: str = "holm", bins: int = 10) -> pd.DataFrame:
    """Test every feature for drift between a reference and a current window.

    Numeric columns get :func:`ks_test`, the others :func:`chi2_test`; every feature also
    gets its :func:`psi`. P-values are corrected together (``correction``), and a feature
    is ``drifted`` when its adjusted p-value is below ``alpha``.

    Args:
        reference: the rows the model was trained on (or a stable window).
        current: the rows to check.
        features: the columns to test (default: the columns the two frames share).
        alpha: significance level after correction.
        correction: ``"holm"``, ``"bh"`` or ``"none"``.
        bins: PSI bins for numeric features.

    Returns:
        One row per feature: ``feature``, ``kind`` (numeric/categorical), ``test`` (ks/chi2),
        ``statistic``, ``p_value``, ``p_adjusted``, ``psi``, ``drifted`` (bool).

    Introduced in 09-monitoring.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}.")
    if features is None:
        features = [c for c in reference.columns if c in current.columns]
    features = list(features)
    missing = sorted({f for f in features if f not in reference.columns or f not in current.columns})
    if missing or not features:
        raise KeyError(f"Features {missing or '(none)'} are not columns of both frames; "
                       f"reference has {list(reference.columns)}, current has {list(current.columns)}.")
    rows = []
    for feature in features:
        numeric = pd.api.types.is_numeric_dtype(reference[feature]) and pd.api.types.is_numeric_dtype(current[feature])
        statistic, p_value = (ks_test if numeric else chi2_test)(reference[feature], current[feature])
        rows.append({"feature": feature, "kind": "numeric" if numeric else "categorical",
                     "test": "ks" if numeric else "chi2", "statistic": statistic, "p_value": p_value,
                     "psi": psi(reference[feature], current[feature], bins=bins)})
    report = pd.DataFrame(rows)
    report["p_adjusted"] = adjust_p_values(report["p_value"].to_numpy(), correction)
    report["drifted"] = report["p_adjusted"] < alpha
    return report[["feature", "kind", "test", "statistic", "p_value", "p_adjusted", "psi", "drifted"]]


def domain_classifier_auc(reference: pd.DataFrame, current: pd.DataFrame, features: Sequence[str], *,
                          seed: int = 0, folds: int = 3, max_rows: int = 3000) -> float:
    """Cross-validated ROC AUC of a classifier that tries to tell ``current`` rows from ``reference`` rows.

    About 0.5: the windows look alike, jointly (not only feature by feature). Well above
    0.5: the inputs moved. A small random forest on one-hot categories, on at most
    ``max_rows`` rows of each window (sampled with ``seed``).

    Introduced in 09-monitoring.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    features = list(features)
    if len(reference) < folds or len(current) < folds:
        raise ValueError(f"Each window needs at least {folds} rows for a {folds}-fold domain classifier.")
    reference = reference.sample(min(len(reference), max_rows), random_state=seed)
    current = current.sample(min(len(current), max_rows), random_state=seed)
    both = pd.concat([reference[features], current[features]], ignore_index=True)
    X = pd.get_dummies(both, dtype=float)
    y = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    model = RandomForestClassifier(n_estimators=40, max_depth=6, min_samples_leaf=20, random_state=seed, n_jobs=1)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(model, X, y, cv=cv, scoring="roc_auc")))


def plot_drift(timeline: pd.DataFrame, *, value: str = "p_adjusted", alpha: float = 0.05, ax: Any = None) -> Any:
    """Heat map of a drift timeline: one row per feature, one column per month.

    ``timeline`` has columns ``month``, ``feature`` and ``value`` (``p_adjusted`` is drawn as
    −log10 p, so darker means stronger evidence; ``psi`` as is). Drifted cells are marked ●.

    Introduced in 09-monitoring.
    """
    import matplotlib.pyplot as plt

    missing = {"month", "feature", value} - set(timeline.columns)
    if missing:
        raise KeyError(f"timeline needs the columns month, feature and {value}; missing {sorted(missing)}.")
    grid = timeline.pivot(index="feature", columns="month", values=value)
    shown = -np.log10(grid.clip(lower=1e-30)) if value.startswith("p_") else grid
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.35 * len(grid) + 1.5))
    image = ax.imshow(shown.to_numpy(float), aspect="auto", cmap="Reds")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=45, ha="right")
    ax.set_yticks(range(grid.shape[0]), grid.index)
    if value.startswith("p_"):
        for (i, j), p in np.ndenumerate(grid.to_numpy(float)):
            if p < alpha:
                ax.text(j, i, "●", ha="center", va="center", color="white", fontsize=8)
    plt.colorbar(image, ax=ax, label="−log10 p (adjusted)" if value.startswith("p_") else value)
    return ax
