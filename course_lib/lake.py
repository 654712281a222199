"""A small local data lake and a re-runnable batch pipeline on top of it.

The lake is a folder with three zones and a manifest:

* ``raw/`` keeps every batch **byte for byte as received**, stored under its content hash
  (``raw/<batch>/<sha256[:12]>/<file name>``), so nothing can overwrite what arrived;
* ``curated/`` holds cleaned, typed data as Parquet, partitioned by month
  (``curated/month=YYYY-MM/part-0.parquet``): publishing a month again replaces its partition;
* ``quarantine/`` keeps batches that could not be read, with the reason in the manifest;
* ``manifest.jsonl`` is an append-only log, one JSON object per event: batch, sha256, rows,
  status, reason, time.

:func:`run_pipeline` chains ingest → validate → gate → clean → publish for a list of batch
files. The steps are plain functions passed in, so each can be tested alone; the pipeline
skips a batch whose content and step code did not change since it was published, and stops
at the first batch that is quarantined or fails the quality gate, saying why.

Nothing happens at import: folders are created when a method writes into them.

Introduced in 01-data.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from course_lib.datasets import COLUMNS, TIMESTAMP, read_batch_file

__all__ = [
    "MANIFEST_COLUMNS", "sha256_file", "batch_name", "read_batch", "DataLake", "code_fingerprint", "run_pipeline",
]

MANIFEST_COLUMNS = ["batch", "sha256", "rows", "status", "reason", "time"]
_BATCH = re.compile(r"^\d{4}-\d{2}$")


def sha256_file(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes (its content address).

    Introduced in 01-data.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"No file {path} to hash.")
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def batch_name(path: str | Path) -> str:
    """The batch a file holds, from its name: ``.../2025-03.csv`` → ``"2025-03"``.

    Introduced in 01-data.
    """
    stem = Path(path).name.split(".")[0]
    if not _BATCH.match(stem):
        raise ValueError(f"A batch file is named YYYY-MM.csv or YYYY-MM.jsonl, not {Path(path).name!r}.")
    return stem


def read_batch(path: str | Path, columns: Iterable[str] = COLUMNS) -> pd.DataFrame:
    """Parse a batch file (CSV or JSON lines) as received, and check its shape.

    Values are not cleaned (parsed by ``course_lib.datasets.read_batch_file``: only empty
    CSV fields and JSON ``null`` are missing). Raises ``ValueError`` with the reason when the file
    cannot be parsed, is empty, lacks or adds columns, or holds rows of another month.

    Introduced in 01-data.
    """
    path = Path(path)
    batch = batch_name(path)
    frame = read_batch_file(path)
    expected = list(columns)
    if frame.empty:
        raise ValueError(f"{path.name} holds no rows.")
    missing, extra = [c for c in expected if c not in frame.columns], [c for c in frame.columns if c not in expected]
    if missing or extra:
        raise ValueError(f"{path.name}: columns do not match the schema (missing {missing}, unexpected {extra}).")
    months = set(frame[TIMESTAMP].astype(str).str[:7].dropna())
    if months != {batch}:
        raise ValueError(f"{path.name}: holds snapshot dates of {sorted(months)}, expected only {batch}.")
    return frame[expected]


@dataclass(frozen=True)
class DataLake:
    """A data lake in a local folder: ``raw/``, ``curated/``, ``quarantine/`` and ``manifest.jsonl``.

    Introduced in 01-data.
    """

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def raw_dir(self) -> Path:
        """The raw zone: batches byte for byte as received."""
        return self.root / "raw"

    @property
    def curated_dir(self) -> Path:
        """The curated zone: cleaned Parquet, one ``month=YYYY-MM`` partition per batch."""
        return self.root / "curated"

    @property
    def quarantine_dir(self) -> Path:
        """Where unreadable batches are kept for a person to look at."""
        return self.root / "quarantine"

    @property
    def manifest_path(self) -> Path:
        """The append-only event log of the lake."""
        return self.root / "manifest.jsonl"

    def record(self, batch: str, sha256: str, rows: int | None, status: str, reason: str = "") -> dict:
        """Append one event to the manifest and return it."""
        if not status:
            raise ValueError("A manifest event needs a status, e.g. 'landed', 'quarantined', 'published'.")
        event = {"batch": batch, "sha256": sha256, "rows": None if rows is None else int(rows),
                 "status": status, "reason": reason, "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
        self.root.mkdir(parents=True, exist_ok=True)
        with self.manifest_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(event) + "\n")
        return event

    def manifest(self) -> pd.DataFrame:
        """All manifest events, oldest first (an empty frame with ``MANIFEST_COLUMNS`` when there is none)."""
        if not self.manifest_path.exists():
            return pd.DataFrame(columns=MANIFEST_COLUMNS)
        lines = self.manifest_path.read_text(encoding="utf-8").splitlines()
        return pd.DataFrame([json.loads(line) for line in lines if line.strip()], columns=MANIFEST_COLUMNS)

    def statuses(self, sha256: str) -> list[str]:
        """Every status recorded for this content, oldest first (``[]`` if it never arrived)."""
        manifest = self.manifest()
        return manifest.loc[manifest["sha256"] == sha256, "status"].tolist()

    def _stored(self, zone: Path, path: Path, sha256: str) -> Path:
        target = zone / batch_name(path) / sha256[:12] / path.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        return target

    def store_raw(self, path: str | Path, sha256: str) -> Path:
        """Copy a received file, unchanged, into the raw zone under its hash; return where it is."""
        return self._stored(self.raw_dir, Path(path), sha256)

    def store_quarantine(self, path: str | Path, sha256: str) -> Path:
        """Copy a rejected file, unchanged, into quarantine; return where it is."""
        return self._stored(self.quarantine_dir, Path(path), sha256)

    def raw_files(self) -> list[Path]:
        """Every file in the raw zone, sorted."""
        return sorted(p for p in self.raw_dir.rglob("*") if p.is_file()) if self.raw_dir.exists() else []

    def publish(self, frame: pd.DataFrame, batch: str) -> Path:
        """Write ``frame`` as the curated partition ``month=<batch>``, replacing any previous one."""
        if not _BATCH.match(str(batch)):
            raise ValueError(f"batch must look like '2025-03', not {batch!r}.")
        partition = self.curated_dir / f"month={batch}"
        if partition.exists():
            shutil.rmtree(partition)
        partition.mkdir(parents=True)
        target = partition / "part-0.parquet"
        frame.reset_index(drop=True).to_parquet(target, index=False)
        return target

    def partitions(self) -> list[str]:
        """The months published in the curated zone, sorted."""
        if not self.curated_dir.exists():
            return []
        return sorted(p.name.split("=", 1)[1] for p in self.curated_dir.glob("month=*") if any(p.iterdir()))

    def read_curated(self, months: Iterable[str] | None = None) -> pd.DataFrame:
        """Read curated partitions (all, or the given months) into one frame, in month order."""
        wanted = self.partitions() if months is None else list(months)
        unknown = sorted(set(wanted) - set(self.partitions()))
        if unknown:
            raise KeyError(f"Months {unknown} are not in the curated zone; it holds {self.partitions()}.")
        if not wanted:
            raise ValueError("The curated zone is empty: publish a batch first.")
        parts = [pd.read_parquet(self.curated_dir / f"month={m}" / "part-0.parquet") for m in sorted(wanted)]
        return pd.concat(parts, ignore_index=True)


def code_fingerprint(*functions: Callable) -> str:
    """A short hash of the source code of ``functions``: it changes when a step's code changes.

    Introduced in 01-data.
    """
    digest = hashlib.sha256()
    for function in functions:
        try:
            digest.update(inspect.getsource(function).encode())
        except (OSError, TypeError):
            digest.update(repr(function).encode())
    return digest.hexdigest()[:12]


def run_pipeline(lake: DataLake, paths: Iterable[str | Path], *, ingest: Callable, validate: Callable,
                 gate: Callable, clean: Callable) -> pd.DataFrame:
    """Run ingest → validate → gate → clean → publish on each batch file, in month order.

    Args:
        lake: the data lake.
        paths: batch files (``YYYY-MM.csv`` / ``.jsonl``).
        ingest: ``ingest(lake, path) -> status``; ``"quarantined"`` stops the pipeline.
        validate: ``validate(frame, batch) -> report`` (a quality report DataFrame).
        gate: ``gate(report) -> (ok, reason)``; ``ok`` false stops the pipeline with ``reason``.
        clean: ``clean(frame) -> frame``, the curated version of a batch.

    A batch whose file content and step code are unchanged since it was last published is
    skipped (status ``unchanged``). Returns one row per batch looked at: batch, status
    (``published``, ``unchanged``, ``quarantined``, ``failed-quality``), rows, reason, seconds.

    Introduced in 01-data.
    """
    code = code_fingerprint(ingest, validate, gate, clean)
    state_path = lake.root / "pipeline_state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    outcomes = []
    for path in sorted((Path(p) for p in paths), key=lambda p: (batch_name(p), str(p))):
        started, batch, sha = time.perf_counter(), batch_name(path), sha256_file(path)
        key = f"{sha}:{code}"
        outcome = {"batch": batch, "status": "unchanged", "rows": None, "reason": ""}
        if state.get(batch) == key and batch in lake.partitions():
            outcomes.append({**outcome, "seconds": time.perf_counter() - started})
            continue
        status = ingest(lake, path)
        if status == "quarantined":
            reasons = lake.manifest().query("sha256 == @sha and status == 'quarantined'")["reason"]
            outcome.update(status="quarantined", reason=reasons.iloc[-1] if len(reasons) else "unreadable batch")
        else:
            frame = read_batch(path)
            ok, reason = gate(validate(frame, batch))
            if not ok:
                lake.record(batch, sha, len(frame), "failed-quality", reason)
                outcome.update(status="failed-quality", rows=len(frame), reason=reason)
            else:
                cleaned = clean(frame)
                lake.publish(cleaned, batch)
                lake.record(batch, sha, len(cleaned), "published")
                state[batch] = key
                state_path.write_text(json.dumps(state, indent=1, sort_keys=True))
                outcome.update(status="published", rows=len(cleaned))
        outcomes.append({**outcome, "seconds": time.perf_counter() - started})
        if outcome["status"] != "published":
            break
    return pd.DataFrame(outcomes, columns=["batch", "status", "rows", "reason", "seconds"])
