"""Content-addressed dataset versions: a digest names a table, a store keeps every version once.

A version is identified by the digest of its *content* (column names and every row, in
any order), the way git names a commit by its content. :class:`DatasetStore` writes each
version once as ``objects/<digest>.parquet`` and appends a line to ``versions.jsonl``
(name, digest, rows, message, time): committing the same content again costs nothing and
returns the same version. DVC and lakeFS do this for files and whole buckets; here it is a
folder in the workspace.

Introduced in 01-data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["frame_digest", "Version", "DatasetStore"]


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a DataFrame's content: column names and rows, independent of row order and index.

    Introduced in 01-data.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame_digest() takes a DataFrame, not {type(frame).__name__}.")
    columns = sorted(frame.columns)
    rows = np.sort(pd.util.hash_pandas_object(frame[columns], index=False).to_numpy())
    digest = hashlib.sha256("\x1f".join(columns).encode())
    digest.update(rows.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Version:
    """One committed dataset version: its name, content digest, row count, file and message.

    Introduced in 01-data.
    """

    name: str
    digest: str
    rows: int
    path: str
    message: str
    time: str

    @property
    def short(self) -> str:
        """The first 12 characters of the digest, enough to name a version in practice."""
        return self.digest[:12]


class DatasetStore:
    """A folder of content-addressed dataset versions with an append-only log.

    Introduced in 01-data.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def log_path(self) -> Path:
        """The version log, one JSON object per commit."""
        return self.root / "versions.jsonl"

    def commit(self, frame: pd.DataFrame, name: str, message: str = "") -> Version:
        """Store ``frame`` as a version of dataset ``name`` (once per content) and return it."""
        if not name or not name.strip():
            raise ValueError("A dataset version needs a name, e.g. 'churn-train'.")
        digest = frame_digest(frame)
        path = self.root / "objects" / f"{digest}.parquet"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.reset_index(drop=True).to_parquet(path, index=False)
        version = Version(name, digest, len(frame), str(path), message,
                          datetime.now(timezone.utc).isoformat(timespec="seconds"))
        known = self.log()
        if not ((known["name"] == name) & (known["digest"] == digest)).any():
            with self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(version)) + "\n")
        return version

    def log(self) -> pd.DataFrame:
        """Every committed version, oldest first."""
        columns = ["name", "digest", "rows", "path", "message", "time"]
        if not self.log_path.exists():
            return pd.DataFrame(columns=columns)
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return pd.DataFrame([json.loads(line) for line in lines if line.strip()], columns=columns)

    def get(self, digest: str) -> Version:
        """The version whose digest starts with ``digest`` (a unique prefix of at least 6 characters)."""
        log = self.log()
        hits = log[log["digest"].str.startswith(digest)] if len(digest) >= 6 else log.iloc[0:0]
        if hits["digest"].nunique() != 1:
            raise KeyError(f"No unique version for {digest!r}; known digests: {sorted(log['digest'].str[:12])}.")
        return Version(**hits.iloc[-1].to_dict())

    def load(self, digest: str) -> pd.DataFrame:
        """Read the content of a version back."""
        return pd.read_parquet(self.get(digest).path)
