"""Agreement between annotators: Cohen's kappa per pair and Fleiss' kappa for all of them.

Labels come as a DataFrame with one column per annotator holding 0, 1 or ``<NA>``
(skipped), like ``course_lib.datasets.load_annotations()``. Kappa compares observed
agreement with the agreement chance alone would give: 1 is perfect, 0 is no better
than chance, below 0 worse than chance.

Introduced in 01-data.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["category_counts", "fleiss_kappa", "pairwise_kappa"]


def category_counts(labels: pd.DataFrame, annotators: Sequence[str], categories: Sequence[int] = (0, 1)) -> np.ndarray:
    """How many annotators gave each category to each item: an ``items × categories`` array.

    Missing labels are not counted, so rows can have fewer raters.

    Introduced in 01-data.
    """
    missing = [a for a in annotators if a not in labels.columns]
    if missing:
        raise KeyError(f"No annotator column(s) {missing}; the frame has {list(labels.columns)}.")
    values = labels[list(annotators)]
    return np.column_stack([(values == c).sum(axis=1).to_numpy(dtype=int) for c in categories])


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa from an ``items × categories`` count table with the same number of raters per item.

    P_i = (Σ_j n_ij² − n) / (n(n − 1)) is each item's agreement, P̄ their mean,
    p_j the share of all labels in category j, P_e = Σ_j p_j², and κ = (P̄ − P_e) / (1 − P_e).

    Introduced in 01-data.
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2 or counts.shape[0] == 0:
        raise ValueError("fleiss_kappa() needs a 2-D items × categories table with at least one item.")
    raters = counts.sum(axis=1)
    if not np.all(raters == raters[0]) or raters[0] < 2:
        raise ValueError("Every item needs the same number of raters (at least 2): keep complete rows only.")
    n = raters[0]
    p_item = ((counts ** 2).sum(axis=1) - n) / (n * (n - 1))
    p_category = counts.sum(axis=0) / counts.sum()
    p_bar, p_chance = p_item.mean(), float((p_category ** 2).sum())
    return float((p_bar - p_chance) / (1 - p_chance)) if p_chance < 1 else 1.0


def pairwise_kappa(labels: pd.DataFrame, annotators: Sequence[str]) -> pd.DataFrame:
    """Cohen's kappa for every pair of annotators, on the rows both labelled (a square DataFrame).

    Introduced in 01-data.
    """
    from sklearn.metrics import cohen_kappa_score

    category_counts(labels, annotators)  # validates the column names
    matrix = pd.DataFrame(1.0, index=list(annotators), columns=list(annotators))
    for i, a in enumerate(annotators):
        for b in annotators[i + 1:]:
            both = labels[[a, b]].dropna()
            kappa = cohen_kappa_score(both[a].astype(int), both[b].astype(int)) if len(both) else np.nan
            matrix.loc[a, b] = matrix.loc[b, a] = kappa
    return matrix
