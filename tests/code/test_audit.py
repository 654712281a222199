import json

import pandas as pd
import pytest

from course_lib.audit import GENESIS, AuditTrail, entry_hash


def _trail(tmp_path):
    trail = AuditTrail(tmp_path / "audit" / "trail.jsonl")
    trail.append("registered", actor="ana", model="m", version=1, reason="first model")
    trail.append("promoted", actor="ben", model="m", version=1, reason="passed", alias="champion", alias_to="1")
    trail.append("promoted", actor="ben", model="m", version=2, reason="better", alias="champion", alias_to="2")
    trail.append("rolled-back", actor="ops", model="m", version=2, reason="bad latency", alias="champion", alias_to="1")
    return trail


def test_entries_are_chained_and_verify_clean(tmp_path):
    trail = _trail(tmp_path)
    frame = trail.entries()
    assert list(frame["seq"]) == [1, 2, 3, 4]
    assert frame["prev"].iloc[0] == GENESIS
    assert list(frame["prev"].iloc[1:]) == list(frame["hash"].iloc[:-1])
    assert trail.verify() == []
    assert isinstance(frame["at"].dtype, pd.DatetimeTZDtype)


def test_edit_is_detected_and_named(tmp_path):
    trail = _trail(tmp_path)
    lines = trail.path.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["actor"] = "mallory"
    lines[1] = json.dumps(entry)
    trail.path.write_text("\n".join(lines) + "\n")
    assert any(p.startswith("entry 2:") and "hash" in p for p in trail.verify())


def test_rehashed_edit_and_deletion_break_links(tmp_path):
    trail = _trail(tmp_path)
    lines = trail.path.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["reason"] = "nobody will notice"
    entry["hash"] = entry_hash(entry)
    lines[1] = json.dumps(entry)
    trail.path.write_text("\n".join(lines) + "\n")
    problems = trail.verify()
    assert any(p.startswith("entry 3:") and "link" in p for p in problems)
    trail.path.write_text("\n".join(_trail(tmp_path / "b").path.read_text().splitlines()[:1] + lines[2:]) + "\n")
    assert trail.verify()


def test_alias_history_and_holder_at(tmp_path):
    trail = _trail(tmp_path)
    history = trail.alias_history("m")
    assert list(history["holder"]) == ["1", "2", "1"]
    assert list(history["previous"]) == [None, "1", "2"]
    assert trail.holder_at("m", pd.Timestamp.now(tz="UTC")) == "1"
    assert trail.holder_at("m", "2000-01-01") is None
    assert trail.alias_history("other").empty


def test_append_refuses_missing_reason_and_bad_details(tmp_path):
    trail = AuditTrail(tmp_path / "t.jsonl")
    with pytest.raises(ValueError, match="reason"):
        trail.append("promoted", actor="a", model="m", version=1, reason=" ")
    with pytest.raises(ValueError, match="JSON"):
        trail.append("promoted", actor="a", model="m", version=1, reason="r", blob=object())
    assert trail.entries().empty and trail.verify() == []
