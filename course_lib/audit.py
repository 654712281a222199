"""An append-only, hash-chained audit trail of a model's lifecycle events.

The registry knows where an alias points *now*; it does not remember who moved it,
when, or why. An audit trail does: one JSON line per event (registered, promoted,
refused, rolled back, retired...) saying who did what to which model version, when
and why. Each entry carries the SHA-256 of the entry before it, so the entries form
a chain:

* editing an entry changes its hash, which no longer matches the hash stored in it;
* rewriting the edited entry's hash too breaks the link from the next entry;
* deleting or reordering entries breaks a link as well.

:meth:`AuditTrail.verify` reports each of these, naming the entry. A chain is
*tamper-evident*, not tamper-proof: whoever can rewrite the whole file can rebuild
the chain, which is why real trails also ship the latest hash somewhere else
(a write-once bucket, a ticket, a transparency log).

Nothing happens at import.

Introduced in 10-governance.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["GENESIS", "entry_hash", "AuditTrail"]

GENESIS = "0" * 64
"""The ``prev`` value of the first entry of a trail."""

_FIELDS = ["seq", "at", "event", "actor", "model", "version", "reason", "details", "prev", "hash"]


def entry_hash(entry: dict) -> str:
    """Return the SHA-256 of an entry's content: every field except ``hash``, as canonical JSON.

    Canonical means sorted keys and no optional whitespace, so the same content always
    gives the same bytes, and so the same hash.

    Introduced in 10-governance.
    """
    if not isinstance(entry, dict):
        raise TypeError(f"An audit entry is a dict, not {type(entry).__name__}.")
    content = {k: v for k, v in entry.items() if k != "hash"}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class AuditTrail:
    """An append-only JSON-lines file of lifecycle events, each chained to the previous one.

    Args:
        path: the file (created on the first append; its folder must exist or is created).

    Example::

        trail = AuditTrail(ws.subdir("governance") / "audit.jsonl")
        trail.append("promoted", actor="ana", model="churn", version=3, reason="passed policy",
                     alias="champion", alias_to="3")
        trail.verify()            # [] while nobody tampered with the file

    Introduced in 10-governance.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"AuditTrail('{self.path}', {len(self._lines())} entries)"

    def _lines(self) -> list[str]:
        if not self.path.is_file():
            return []
        return [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def _last(self) -> dict | None:
        lines = self._lines()
        return json.loads(lines[-1]) if lines else None

    def append(self, event: str, *, actor: str, model: str, version: str | int, reason: str,
               **details: Any) -> dict:
        """Append one event and return the entry written (with its ``seq``, ``prev`` and ``hash``).

        Args:
            event: what happened, e.g. ``"registered"``, ``"promoted"``, ``"promotion-refused"``,
                ``"rolled-back"``, ``"stage-changed"``, ``"retired"``.
            actor: who did it (a person or a service account).
            model: the registered model's name.
            version: the model version concerned.
            reason: why, in a sentence; an event without a reason is refused.
            **details: anything else worth keeping (JSON-serialisable). Events that move an alias
                carry ``alias`` and ``alias_to`` (the version holding it afterwards, or None),
                which :meth:`alias_history` reads.

        Raises:
            ValueError: if event, actor, model or reason is empty, or details are not JSON-serialisable.

        Introduced in 10-governance.
        """
        for label, value in (("event", event), ("actor", actor), ("model", model), ("reason", reason)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"An audit entry needs a non-empty {label} (a string), got {value!r}.")
        if version is None or str(version).strip() == "":
            raise ValueError("An audit entry needs the model version it is about.")
        last = self._last()
        entry = {
            "seq": (last["seq"] + 1) if last else 1,
            "at": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            "event": event, "actor": actor, "model": model, "version": str(version), "reason": reason,
            "details": details, "prev": last["hash"] if last else GENESIS,
        }
        try:
            entry["hash"] = entry_hash(entry)
            line = json.dumps(entry, sort_keys=True, ensure_ascii=False)
        except TypeError as error:
            raise ValueError(f"Audit details must be JSON-serialisable: {error}") from error
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return entry

    def verify(self) -> list[str]:
        """Check every entry's hash and every link; return the problems (empty when intact).

        Each problem names the entry by its position (1 = first line), e.g.
        ``"entry 3: its content does not match its hash (edited after it was written)"``.

        Introduced in 10-governance.
        """
        problems, previous = [], GENESIS
        for position, line in enumerate(self._lines(), start=1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                problems.append(f"entry {position}: not valid JSON (the line was damaged)")
                previous = None
                continue
            if entry.get("hash") != entry_hash(entry):
                problems.append(f"entry {position}: its content does not match its hash (edited after it was written)")
            if previous is not None and entry.get("prev") != previous:
                problems.append(f"entry {position}: its link to entry {position - 1} is broken "
                                "(an entry before it was edited, removed or reordered)")
            if entry.get("seq") != position:
                problems.append(f"entry {position}: sequence number {entry.get('seq')} instead of {position} "
                                "(entries were removed or reordered)")
            previous = entry.get("hash")
        return problems

    def entries(self) -> pd.DataFrame:
        """Return all entries as a DataFrame, oldest first.

        Columns: ``seq``, ``at`` (UTC datetime), ``event``, ``actor``, ``model``, ``version``,
        ``reason``, ``details`` (a dict), ``prev``, ``hash``.

        Introduced in 10-governance.
        """
        rows = []
        for line in self._lines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        frame = pd.DataFrame(rows, columns=_FIELDS)
        frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
        return frame

    def alias_history(self, model: str, alias: str = "champion") -> pd.DataFrame:
        """Rebuild who held ``alias`` of ``model``, event by event, from the trail alone.

        Returns one row per event that moved the alias, oldest first: ``at``, ``seq``,
        ``event``, ``holder`` (the version holding the alias afterwards, or None),
        ``previous`` (the holder before), ``actor``, ``reason``.

        Introduced in 10-governance.
        """
        frame = self.entries()
        rows, holder = [], None
        for entry in frame[frame["model"] == model].itertuples(index=False):
            details = entry.details if isinstance(entry.details, dict) else {}
            if details.get("alias") != alias or "alias_to" not in details:
                continue
            new = None if details["alias_to"] is None else str(details["alias_to"])
            rows.append({"at": entry.at, "seq": entry.seq, "event": entry.event, "holder": new,
                         "previous": holder, "actor": entry.actor, "reason": entry.reason})
            holder = new
        frame = pd.DataFrame(rows, columns=["at", "seq", "event", "holder", "previous", "actor", "reason"], dtype=object)
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame.astype({"seq": "int64"})  # holder/previous stay objects, so "no holder" is None

    def holder_at(self, model: str, when: Any, alias: str = "champion") -> str | None:
        """Return the version that held ``alias`` at time ``when`` (None if none did).

        Introduced in 10-governance.
        """
        moment = pd.Timestamp(when)
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment
        history = self.alias_history(model, alias)
        earlier = history[history["at"] <= moment]
        return None if earlier.empty else earlier["holder"].iloc[-1]
