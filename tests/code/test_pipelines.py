import json

import pandas as pd
import pytest

from course_lib.pipelines import ArtifactStore, MLPipeline, QualityGateError, Step, StepFailed


def _load(n):
    return {"raw": pd.DataFrame({"x": list(range(n))})}


def _double(raw, factor):
    return {"doubled": raw.assign(x=raw.x * factor)}


def _total(doubled, floor):
    total = int(doubled.x.sum())
    if total < floor:
        raise QualityGateError(f"total {total} below {floor}")
    return {"total": total}


def _pipeline(root):
    return MLPipeline("toy", [
        Step("load", _load, params=("n",), outputs=("raw",)),
        Step("double", _double, inputs=("raw",), params=("factor",), outputs=("doubled",)),
        Step("total", _total, inputs=("doubled",), params=("floor",), outputs=("total",)),
    ], root=root)


PARAMS = {"n": 4, "factor": 2, "floor": 0}


def test_store_is_content_addressed_and_detects_tampering(tmp_path):
    store = ArtifactStore(tmp_path)
    a, b = store.put("x", {"k": 1}), store.put("y", {"k": 1})
    assert a.sha256 == b.sha256 and a.path == b.path and store.get(a) == {"k": 1}
    frame = store.put("f", pd.DataFrame({"c": [1, 2]}))
    assert store.get(frame).equals(pd.DataFrame({"c": [1, 2]}))
    assert store.get(store.put("o", {1, 2})) == {1, 2}  # not JSON: pickled
    a.path.write_text(json.dumps({"k": 2}))
    with pytest.raises(ValueError, match="modified"):
        store.get(a)


def test_run_records_hashes_and_edges(tmp_path):
    pipeline = _pipeline(tmp_path)
    assert pipeline.edges == [("load", "double"), ("double", "total")]
    run = pipeline.run(PARAMS)
    assert run.status == "success" and pipeline.load(run, "total") == 12
    assert run.step("double").inputs["raw"] == run.step("load").outputs["raw"]
    assert "param:factor" in run.step("double").inputs
    assert [r.run_id for r in pipeline.runs()] == [run.run_id]
    assert list(run.to_frame().columns) == ["step", "status", "seconds", "outputs"]


def test_rerun_from_a_step_reuses_earlier_artifacts(tmp_path):
    pipeline = _pipeline(tmp_path)
    first = pipeline.run(PARAMS)
    second = pipeline.run({**PARAMS, "factor": 3}, from_step="double")
    assert [r.status for r in second.steps] == ["reused", "ran", "ran"]
    assert second.step("load").outputs == first.step("load").outputs
    assert pipeline.load(second, "total") == 18


def test_a_failed_gate_skips_downstream_and_is_recorded(tmp_path):
    pipeline = _pipeline(tmp_path)
    with pytest.raises(StepFailed, match="total"):
        pipeline.run({**PARAMS, "floor": 100})
    failed = pipeline.runs()[-1]
    assert failed.status == "failed" and "QualityGateError" in failed.step("total").error
    gate_first = MLPipeline("toy", [pipeline.steps[0], Step("total", _total, inputs=("raw",), params=("floor",),
                                                            outputs=("total",)),
                                    Step("after", lambda total: {"done": True}, inputs=("total",), outputs=("done",))],
                            root=tmp_path / "other")
    run = gate_first.run({"n": 2, "floor": 100}, raise_on_error=False)
    assert [r.status for r in run.steps] == ["ran", "failed", "skipped"]


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="no earlier step produces"):
        MLPipeline("bad", [Step("double", _double, inputs=("raw",), params=("factor",), outputs=("doubled",))], tmp_path)
    with pytest.raises(ValueError, match="no outputs"):
        Step("x", _load)
    with pytest.raises(ValueError, match="tuple of names"):
        Step("x", _load, inputs="raw", outputs=("a",))
    pipeline = _pipeline(tmp_path)
    with pytest.raises(KeyError, match="floor"):
        pipeline.run({"n": 1, "factor": 1})
    with pytest.raises(ValueError, match="run the whole pipeline once"):
        pipeline.run(PARAMS, from_step="total")
    with pytest.raises(ValueError, match="Unknown step"):
        pipeline.run(PARAMS, from_step="nope")
    wrong = MLPipeline("w", [Step("load", lambda n: {"other": 1}, params=("n",), outputs=("raw",))], tmp_path / "w")
    with pytest.raises(StepFailed, match="must return a dict"):
        wrong.run({"n": 1})
