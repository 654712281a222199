"""course_lib.capstone: stages that fail softly, the platform's steps, features and model, the scorecard."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from course_lib import capstone
from course_lib.datasets import ENTITY, MONTHS, NUMERIC_FEATURES, TARGET, TIMESTAMP, load_churn, raw_batch_path, read_raw_batch
from course_lib.lake import DataLake, run_pipeline


def test_run_stage_returns_the_learners_value_when_it_works():
    result = capstone.run_stage("ingest", lambda: 41 + 1, lambda: 0)
    assert (result.value, result.own, result.error) == (42, True, "")


def test_run_stage_falls_back_and_says_why(capsys):
    def broken():
        raise NotImplementedError("not yet")

    result = capstone.run_stage("train", broken, lambda: "reference")
    assert (result.value, result.own) == ("reference", False)
    assert result.error.startswith("NotImplementedError: not yet")
    assert "stage 'train' failed" in capsys.readouterr().out


def test_run_stage_rejects_non_callables():
    with pytest.raises(ValueError, match="two callables"):
        capstone.run_stage("x", 1, lambda: 0)


def test_reference_steps_publish_2025_and_refuse_the_broken_2026_01(tmp_path):
    lake = DataLake(tmp_path / "lake")
    steps = capstone.reference_steps()
    assert set(steps) == {"ingest", "validate", "gate", "clean"}
    outcome = run_pipeline(lake, [raw_batch_path(m) for m in MONTHS[:13]], **steps)
    assert list(outcome["status"]) == ["published"] * 12 + ["failed-quality"]
    assert "data_usage_gb" in outcome["reason"].iloc[-1] and "support_calls" in outcome["reason"].iloc[-1]
    assert lake.partitions() == MONTHS[:12]


def test_reference_clean_repairs_what_module_01_repairs():
    clean = capstone.reference_steps()["clean"]
    may = clean(read_raw_batch("2025-05"))
    assert may["monthly_charges"].dtype == "float64"
    assert may.duplicated([ENTITY, TIMESTAMP]).sum() == 0
    july = clean(read_raw_batch("2025-07"))
    assert len(july) == len(load_churn("2025-07"))


def test_feature_definitions_are_point_in_time_and_numeric():
    definitions = capstone.feature_definitions()
    assert [d.name for d in definitions] == capstone.STORE_FEATURES
    panel = load_churn("2025-01:2025-03").sort_values([ENTITY, TIMESTAMP]).reset_index(drop=True)
    early = panel[panel[TIMESTAMP] < "2025-03-01"]
    for definition in definitions:
        full, cut = definition.function(panel), definition.function(early)
        assert np.allclose(full.loc[early.index].astype(float), cut.astype(float), equal_nan=True), definition.name


def test_build_model_accepts_every_store_feature_and_uses_the_chosen_ones():
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(200, len(capstone.STORE_FEATURES))),
                         columns=capstone.STORE_FEATURES)
    target = (frame["support_calls"] > 0).astype(int)
    for kind in ("boosting", "logistic"):
        model = capstone.build_model(kind, features=NUMERIC_FEATURES, seed=1).fit(frame, target)
        shuffled = frame.assign(region_east=frame["region_east"] * 100)      # a column the model ignores
        assert np.allclose(model.predict_proba(frame), model.predict_proba(shuffled))


def test_build_model_rejects_unknown_kinds_and_features():
    with pytest.raises(ValueError, match="kind"):
        capstone.build_model("forest")
    with pytest.raises(ValueError, match="STORE_FEATURES"):
        capstone.build_model(features=["gender"])


def test_plot_scorecard_draws_one_tile_per_stage():
    ax = capstone.plot_scorecard({"1 ingest": True, "2 features": False, "3 train": None})
    assert len(ax.patches) == 3
    assert "1 of 3" in ax.get_title()
    with pytest.raises(ValueError):
        capstone.plot_scorecard({})


def test_target_is_not_a_feature():
    assert TARGET not in capstone.STORE_FEATURES and "gender" not in capstone.STORE_FEATURES
