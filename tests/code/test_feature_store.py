"""course_lib.feature_store: registry, point-in-time offline lookups, online store, zero skew."""

import sqlite3

import numpy as np
import pandas as pd
import pytest

from course_lib.feature_store import FeatureDefinition, FeatureStore

E, T = "customer_id", "snapshot_date"


@pytest.fixture()
def panel():
    return pd.DataFrame({
        E: ["A", "A", "A", "B", "B"],
        T: pd.to_datetime(["2025-01-31", "2025-02-28", "2025-03-31", "2025-02-28", "2025-03-31"]),
        "calls": [1, 2, 3, 10, 20],
    }).sample(frac=1.0, random_state=0)


def _calls_so_far(frame):
    return frame.groupby(E, sort=False)["calls"].cumsum()


@pytest.fixture()
def store(tmp_path, panel):
    s = FeatureStore(tmp_path / "fs", entity=E, timestamp=T)
    s.register(FeatureDefinition("calls", E, T, lambda f: f["calls"], "calls this month", "care"))
    s.register(FeatureDefinition("calls_so_far", E, T, _calls_so_far, "cumulative calls", "care"))
    s.materialize_offline(panel)
    return s


def test_definition_validates_its_fields():
    with pytest.raises(ValueError, match="owner"):
        FeatureDefinition("x", E, T, lambda f: f["x"], "d", "")
    with pytest.raises(ValueError, match="callable"):
        FeatureDefinition("x", E, T, "not a function", "d", "o")


def test_register_rejects_other_keys_and_replaces_same_name(tmp_path):
    s = FeatureStore(tmp_path, entity=E, timestamp=T)
    with pytest.raises(ValueError, match="keyed by"):
        s.register(FeatureDefinition("x", "account", T, lambda f: f["x"], "d", "o"))
    s.register(FeatureDefinition("x", E, T, lambda f: f["a"], "first", "o"))
    s.register(FeatureDefinition("x", E, T, lambda f: f["b"], "second", "o"))
    assert list(s.describe()["description"]) == ["second"]


def test_offline_store_is_partitioned_by_month(store):
    parts = sorted(p.parent.name for p in store.offline_dir.glob("month=*/part.parquet"))
    assert parts == ["month=2025-01", "month=2025-02", "month=2025-03"]
    offline = store.read_offline()
    assert offline.set_index([E, T]).loc[("A", pd.Timestamp("2025-03-31")), "calls_so_far"] == 6


def test_historical_features_are_point_in_time(store):
    events = pd.DataFrame({E: ["A", "B", "A", "B"], "event_timestamp": pd.to_datetime(
        ["2025-02-15", "2025-01-31", "2025-03-31", "2025-04-30"]), "label": [0, 1, 0, 1]}, index=[7, 5, 3, 1])
    result = store.get_historical_features(events, ["calls_so_far"])
    assert list(result.index) == [7, 5, 3, 1]
    assert list(result["label"]) == [0, 1, 0, 1]
    np.testing.assert_array_equal(result["calls_so_far"].to_numpy(), [1.0, np.nan, 6.0, 30.0])


def test_online_matches_offline_exactly(store):
    assert store.materialize_online("2025-02-28") == 2
    online = store.get_online_features(["B", "A", "Z"], ["calls", "calls_so_far"])
    assert list(online[E]) == ["B", "A", "Z"]
    offline = store.get_historical_features(
        pd.DataFrame({E: ["B", "A", "Z"], "event_timestamp": pd.Timestamp("2025-02-28")}), ["calls", "calls_so_far"])
    np.testing.assert_array_equal(online[["calls", "calls_so_far"]].to_numpy(), offline[["calls", "calls_so_far"]].to_numpy())
    with sqlite3.connect(store.online_path) as connection:
        assert connection.execute("SELECT MAX(feature_timestamp) FROM online_features").fetchone()[0] == "2025-02-28"
    connection.close()


def test_rematerialising_is_idempotent(store, panel):
    store.materialize_offline(panel)
    assert len(store.read_offline()) == len(panel)
    store.materialize_online("2025-03-31")
    assert store.materialize_online("2025-03-31") == 2


def test_clear_errors(tmp_path, store):
    empty = FeatureStore(tmp_path / "empty", entity=E, timestamp=T)
    with pytest.raises(ValueError, match="register"):
        empty.read_offline()
    empty.register(FeatureDefinition("calls", E, T, lambda f: f["calls"], "d", "o"))
    with pytest.raises(FileNotFoundError, match="materialize_offline"):
        empty.read_offline()
    with pytest.raises(FileNotFoundError, match="materialize_online"):
        empty.get_online_features(["A"], ["calls"])
    with pytest.raises(KeyError, match="Unknown feature"):
        store.read_offline(["nope"])
    with pytest.raises(KeyError, match="event time"):
        store.get_historical_features(pd.DataFrame({E: ["A"]}), ["calls"])
    with pytest.raises(KeyError, match="key column"):
        store.materialize_offline(pd.DataFrame({E: ["A"]}))


def test_online_store_lags_a_new_definition_until_rematerialised(store):
    store.materialize_online("2025-03-31")
    store.register(FeatureDefinition("double", E, T, lambda f: 2 * f["calls"], "twice the calls", "care"))
    with pytest.raises(KeyError, match="materialize_online"):
        store.get_online_features(["A"], ["double"])
