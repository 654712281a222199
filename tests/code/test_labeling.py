"""course_lib.labeling: Fleiss' and Cohen's kappa."""

import numpy as np
import pandas as pd
import pytest

from course_lib.datasets import load_annotations
from course_lib.labeling import category_counts, fleiss_kappa, pairwise_kappa


def test_fleiss_kappa_on_a_textbook_table():
    # Fleiss (1971) style example: perfect agreement → 1, and a hand-computed case.
    assert fleiss_kappa(np.array([[3, 0], [0, 3], [3, 0]])) == pytest.approx(1.0)
    counts = np.array([[2, 1], [1, 2], [3, 0], [0, 3]])
    p_item = np.array([1 / 3, 1 / 3, 1, 1]).mean()
    p_e = 0.5 ** 2 + 0.5 ** 2
    assert fleiss_kappa(counts) == pytest.approx((p_item - p_e) / (1 - p_e))


def test_fleiss_kappa_refuses_uneven_raters():
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa(np.array([[2, 1], [1, 0]]))
    with pytest.raises(ValueError):
        fleiss_kappa(np.array([]))


def test_counts_and_pairwise_kappa_on_the_annotations():
    labels = load_annotations()
    annotators = ["annotator_a", "annotator_b", "annotator_c"]
    counts = category_counts(labels, annotators)
    assert counts.shape == (600, 2) and counts.sum() == labels[annotators].notna().sum().sum()
    kappas = pairwise_kappa(labels, annotators)
    assert np.allclose(np.diag(kappas), 1.0) and np.allclose(kappas, kappas.T)
    assert kappas.loc["annotator_a", "annotator_b"] > kappas.loc["annotator_a", "annotator_c"]
    with pytest.raises(KeyError, match="annotator_z"):
        category_counts(labels, ["annotator_z"])
    toy = pd.DataFrame({"x": pd.array([1, 0, 1, pd.NA], dtype="Int64"), "y": pd.array([1, 0, 1, 1], dtype="Int64")})
    assert pairwise_kappa(toy, ["x", "y"]).loc["x", "y"] == pytest.approx(1.0)
