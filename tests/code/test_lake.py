"""course_lib.lake: reading batches, the lake's zones and manifest, and the re-runnable pipeline."""

import pandas as pd
import pytest

from course_lib.datasets import raw_batch_path, read_raw_batch
from course_lib.lake import DataLake, batch_name, code_fingerprint, read_batch, run_pipeline, sha256_file


def _ingest(lake, path):
    sha = sha256_file(path)
    if "landed" in lake.statuses(sha):
        return "skipped"
    try:
        frame = read_batch(path)
    except ValueError as err:
        lake.store_quarantine(path, sha)
        lake.record(batch_name(path), sha, None, "quarantined", str(err))
        return "quarantined"
    lake.store_raw(path, sha)
    lake.record(batch_name(path), sha, len(frame), "landed")
    return "landed"


def _validate(frame, batch):
    rate = float(frame["support_calls"].isna().mean())
    return pd.DataFrame({"check": ["completeness"], "column": ["support_calls"], "failure_rate": [rate]})


def _gate(report):
    bad = report[report["failure_rate"] > 0.1]
    return bad.empty, "; ".join(f"{c} failed" for c in bad["column"])


def _clean(frame):
    return frame.drop_duplicates(["customer_id", "snapshot_date"]).reset_index(drop=True)


def test_batch_name_and_hash(tmp_path):
    assert batch_name(raw_batch_path("2025-03")) == "2025-03"
    with pytest.raises(ValueError, match="YYYY-MM"):
        batch_name(tmp_path / "march.csv")
    copy = tmp_path / "2025-03.csv"
    copy.write_bytes(raw_batch_path("2025-03").read_bytes())
    assert sha256_file(copy) == sha256_file(raw_batch_path("2025-03"))


def test_read_batch_matches_the_dataset_reader_and_refuses_broken_files(tmp_path):
    for month in ("2025-05", "2026-01"):
        pd.testing.assert_frame_equal(read_batch(raw_batch_path(month)), read_raw_batch(month))
    truncated = tmp_path / "2026-07.jsonl"
    truncated.write_text('{"customer_id": "C1",\n')
    with pytest.raises(ValueError, match="line 1"):
        read_batch(truncated)
    wrong_month = tmp_path / "2025-04.csv"
    wrong_month.write_bytes(raw_batch_path("2025-03").read_bytes())
    with pytest.raises(ValueError, match="expected only 2025-04"):
        read_batch(wrong_month)
    missing = tmp_path / "2025-03.csv"
    read_raw_batch("2025-03").drop(columns=["age"]).to_csv(missing, index=False)
    with pytest.raises(ValueError, match="missing \\['age'\\]"):
        read_batch(missing)
    with pytest.raises(ValueError, match="unknown format"):
        read_batch(tmp_path / "2025-03.parquet")


def test_lake_zones_manifest_and_partitions(tmp_path):
    lake = DataLake(tmp_path / "lake")
    assert lake.manifest().empty and lake.partitions() == [] and lake.raw_files() == []
    path = raw_batch_path("2025-01")
    assert _ingest(lake, path) == "landed" and _ingest(lake, path) == "skipped"
    assert [p.read_bytes() for p in lake.raw_files()] == [path.read_bytes()]
    assert lake.statuses(sha256_file(path)) == ["landed"]
    frame = read_batch(path)
    lake.publish(frame, "2025-01")
    lake.publish(frame.head(10), "2025-01")  # publishing again replaces the partition
    assert lake.partitions() == ["2025-01"] and len(lake.read_curated()) == 10
    with pytest.raises(KeyError, match="2025-02"):
        lake.read_curated(["2025-02"])
    with pytest.raises(ValueError):
        lake.publish(frame, "January")
    with pytest.raises(ValueError):
        lake.record("2025-01", "abc", 1, "")


def test_pipeline_publishes_skips_unchanged_and_stops_at_the_gate(tmp_path):
    lake = DataLake(tmp_path / "lake")
    paths = [raw_batch_path(m) for m in ("2025-11", "2025-12", "2026-01", "2026-02")]
    steps = dict(ingest=_ingest, validate=_validate, gate=_gate, clean=_clean)
    first = run_pipeline(lake, paths, **steps)
    assert first["status"].tolist() == ["published", "published", "failed-quality"]
    assert "support_calls" in first["reason"].iloc[-1]
    assert lake.partitions() == ["2025-11", "2025-12"]
    assert len(lake.read_curated(["2025-11"])) == len(read_raw_batch("2025-11")) - 8  # stale copies removed
    second = run_pipeline(lake, paths, **steps)
    assert second["status"].tolist() == ["unchanged", "unchanged", "failed-quality"]
    assert (lake.manifest()["status"] == "failed-quality").sum() == 2


def test_pipeline_stops_at_a_quarantined_batch(tmp_path):
    lake = DataLake(tmp_path / "lake")
    broken = tmp_path / "2026-07.jsonl"
    broken.write_text("{not json}\n")
    result = run_pipeline(lake, [broken, raw_batch_path("2025-01")],
                          ingest=_ingest, validate=_validate, gate=_gate, clean=_clean)
    assert result["status"].tolist() == ["published", "quarantined"]
    assert "not valid JSON" in result["reason"].iloc[-1]


def test_code_fingerprint_changes_with_the_code():
    assert code_fingerprint(_gate) == code_fingerprint(_gate)
    assert code_fingerprint(_gate) != code_fingerprint(_clean)
