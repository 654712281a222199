"""A feature store small enough to read in one sitting, with the shape of the real ones.

Three parts, as in Feast, Tecton or Databricks' feature store:

* **definitions**, registered once: a :class:`FeatureDefinition` names a feature, its
  entity (whose feature it is), the timestamp column it is valid at, the function that
  computes it, what it means and who owns it;
* an **offline store**: every feature value with its entity and timestamp, kept as
  Parquet files partitioned by month under ``<root>/offline/``. It answers
  :meth:`FeatureStore.get_historical_features`: for each (entity, event time) of an
  entity dataframe, the latest value at or before that time (an *as-of* join), so a
  training set never sees the future;
* an **online store**: one row per entity, the latest value as of the moment it was
  materialised, in SQLite (``<root>/online.db``). It answers
  :meth:`FeatureStore.get_online_features` in a millisecond at inference.

Both stores are filled from the same definitions, so training and serving read the
same numbers: a lookup online after ``materialize_online(t)`` equals the historical
lookup at time ``t`` exactly.

Nothing happens at import; a store writes only under the folder it is given.

Introduced in 02-features.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["FeatureDefinition", "FeatureStore"]

_TABLE = "online_features"


@dataclass(frozen=True)
class FeatureDefinition:
    """One feature, defined once and used by both the offline and the online store.

    Attributes:
        name: the feature's column name, e.g. ``"calls_last_3"``.
        entity: the entity column it belongs to, e.g. ``"customer_id"``.
        timestamp: the column saying when a value became known, e.g. ``"snapshot_date"``.
        function: takes the source table (sorted by entity, then timestamp) and returns a
            Series aligned with it. It may use only rows of the same entity at or before
            each row's timestamp.
        description: what the feature means, for the people who reuse it.
        owner: who answers questions about it.

    Introduced in 02-features.
    """

    name: str
    entity: str
    timestamp: str
    function: Callable[[pd.DataFrame], pd.Series]
    description: str
    owner: str

    def __post_init__(self) -> None:
        for field in ("name", "entity", "timestamp", "description", "owner"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"FeatureDefinition.{field} must be a non-empty string, got {value!r}.")
        if not callable(self.function):
            raise ValueError(f"FeatureDefinition.function of {self.name!r} must be callable, got {self.function!r}.")


class FeatureStore:
    """Feature definitions plus an offline (Parquet) and an online (SQLite) store under ``root``.

    Args:
        root: the folder the store writes into (use a workspace sub-folder).
        entity: the entity column shared by all definitions.
        timestamp: the timestamp column shared by all definitions.

    Introduced in 02-features.
    """

    def __init__(self, root: str | Path, entity: str, timestamp: str) -> None:
        self.root = Path(root)
        self.entity = entity
        self.timestamp = timestamp
        self._definitions: dict[str, FeatureDefinition] = {}

    # ------------------------------------------------------------------ registry
    def register(self, definition: FeatureDefinition) -> None:
        """Add a definition; registering the same name again replaces it (re-running a cell is safe)."""
        if not isinstance(definition, FeatureDefinition):
            raise ValueError(f"register() takes a FeatureDefinition, got {type(definition).__name__}.")
        if (definition.entity, definition.timestamp) != (self.entity, self.timestamp):
            raise ValueError(
                f"{definition.name!r} is keyed by ({definition.entity!r}, {definition.timestamp!r}); "
                f"this store is keyed by ({self.entity!r}, {self.timestamp!r})."
            )
        self._definitions[definition.name] = definition

    @property
    def definitions(self) -> dict[str, FeatureDefinition]:
        """The registered definitions by name (a copy)."""
        return dict(self._definitions)

    def describe(self) -> pd.DataFrame:
        """The registry as a table: name, entity, timestamp, description, owner."""
        rows = [
            {"name": d.name, "entity": d.entity, "timestamp": d.timestamp, "description": d.description, "owner": d.owner}
            for d in self._definitions.values()
        ]
        return pd.DataFrame(rows, columns=["name", "entity", "timestamp", "description", "owner"])

    def _names(self, features: Iterable[str] | None) -> list[str]:
        names = list(self._definitions) if features is None else list(features)
        unknown = [n for n in names if n not in self._definitions]
        if unknown:
            raise KeyError(f"Unknown feature(s) {unknown}; registered: {sorted(self._definitions)}.")
        if not names:
            raise ValueError("No features: register at least one FeatureDefinition first.")
        return names

    # ------------------------------------------------------------------ offline store
    @property
    def offline_dir(self) -> Path:
        """Folder of the offline store: ``<root>/offline/month=YYYY-MM/part.parquet``."""
        return self.root / "offline"

    def materialize_offline(self, source: pd.DataFrame) -> list[Path]:
        """Compute every registered feature on ``source`` and (re)write the partitioned offline store.

        Returns:
            The Parquet files written, one per month.
        """
        missing = [c for c in (self.entity, self.timestamp) if c not in source.columns]
        if missing:
            raise KeyError(f"The source table lacks the key column(s) {missing}.")
        names = self._names(None)
        ordered = source.sort_values([self.entity, self.timestamp], kind="stable").reset_index(drop=True)
        table = ordered[[self.entity, self.timestamp]].copy()
        for name in names:
            values = self._definitions[name].function(ordered)
            if len(values) != len(ordered):
                raise ValueError(f"Feature {name!r} returned {len(values)} values for {len(ordered)} rows.")
            table[name] = pd.Series(values, index=ordered.index).astype("float64")
        if self.offline_dir.exists():
            shutil.rmtree(self.offline_dir)
        written = []
        months = table[self.timestamp].dt.strftime("%Y-%m")
        for month, part in table.groupby(months, sort=True):
            folder = self.offline_dir / f"month={month}"
            folder.mkdir(parents=True, exist_ok=True)
            part.to_parquet(folder / "part.parquet", index=False)
            written.append(folder / "part.parquet")
        return written

    def read_offline(self, features: Sequence[str] | None = None) -> pd.DataFrame:
        """All rows of the offline store (entity, timestamp and the chosen features)."""
        names = self._names(features)
        files = sorted(self.offline_dir.glob("month=*/part.parquet"))
        if not files:
            raise FileNotFoundError(f"The offline store {self.offline_dir} is empty: call materialize_offline(source) first.")
        frame = pd.concat([pd.read_parquet(f, columns=[self.entity, self.timestamp, *names]) for f in files])
        return frame.reset_index(drop=True)

    def get_historical_features(
        self, entity_df: pd.DataFrame, features: Sequence[str], event_timestamp: str = "event_timestamp"
    ) -> pd.DataFrame:
        """Point-in-time-correct features: for each row, the latest value at or before its event time.

        Args:
            entity_df: one row per (entity, event time), e.g. labelled events; other columns are kept.
            features: names of registered features.
            event_timestamp: the column of ``entity_df`` holding the event time.

        Returns:
            ``entity_df`` (same rows, same order) with one column per feature; NaN where the
            entity had no value yet at the event time.
        """
        missing = [c for c in (self.entity, event_timestamp) if c not in entity_df.columns]
        if missing:
            raise KeyError(f"entity_df lacks the column(s) {missing}; it needs the entity and the event time.")
        offline = self.read_offline(features)
        events = entity_df.reset_index(drop=True).assign(_row=lambda f: range(len(f)))
        events["_event"] = pd.to_datetime(events[event_timestamp]).astype(offline[self.timestamp].dtype)
        joined = pd.merge_asof(
            events.sort_values("_event"),
            offline.rename(columns={self.timestamp: "_feature_time"}).sort_values("_feature_time"),
            left_on="_event", right_on="_feature_time", by=self.entity, direction="backward",
        )
        joined = joined.sort_values("_row").set_index(entity_df.index)
        return joined.drop(columns=["_row", "_event", "_feature_time"])

    # ------------------------------------------------------------------ online store
    @property
    def online_path(self) -> Path:
        """The SQLite file of the online store."""
        return self.root / "online.db"

    def materialize_online(self, as_of: str | pd.Timestamp) -> int:
        """Load the latest value of every feature at or before ``as_of`` into the online store.

        Returns:
            The number of entities written (the table is replaced, so re-running is safe).
        """
        offline = self.read_offline(None)
        cutoff = pd.Timestamp(as_of)
        latest = (
            offline[offline[self.timestamp] <= cutoff]
            .sort_values([self.entity, self.timestamp])
            .groupby(self.entity, sort=True)
            .tail(1)
        )
        table = latest.rename(columns={self.timestamp: "feature_timestamp"})
        table["feature_timestamp"] = table["feature_timestamp"].dt.strftime("%Y-%m-%d")
        self.root.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.online_path) as connection:
            table.to_sql(_TABLE, connection, if_exists="replace", index=False)
            connection.execute(f'CREATE UNIQUE INDEX IF NOT EXISTS "by_entity" ON {_TABLE} ("{self.entity}")')
        connection.close()
        return len(table)

    def get_online_features(self, entity_ids: Sequence[str], features: Sequence[str]) -> pd.DataFrame:
        """The online values of ``features`` for ``entity_ids``, in that order (NaN for an unknown entity)."""
        names = self._names(features)
        if not self.online_path.exists():
            raise FileNotFoundError(f"No online store at {self.online_path}: call materialize_online(as_of) first.")
        ids = [str(i) for i in entity_ids]
        columns = ", ".join(f'"{c}"' for c in [self.entity, *names])
        marks = ", ".join("?" for _ in ids) or "NULL"
        connection = sqlite3.connect(self.online_path)
        try:
            stored = {row[1] for row in connection.execute(f"PRAGMA table_info({_TABLE})")}
            lacking = [n for n in names if n not in stored]
            if lacking:
                raise KeyError(f"The online store lacks {lacking}: call materialize_online(as_of) again after registering.")
            rows = connection.execute(f'SELECT {columns} FROM {_TABLE} WHERE "{self.entity}" IN ({marks})', ids).fetchall()
        finally:
            connection.close()
        found = pd.DataFrame(rows, columns=[self.entity, *names]).set_index(self.entity)
        result = found.reindex(ids).astype("float64").reset_index()
        return result.rename(columns={"index": self.entity})
