import matplotlib
import pandas as pd
import pytest

from course_lib.orchestration import dagster_assets, dagster_instance, flaky, plot_dag, plot_timeline, run_assets, step_timeline
from course_lib.pipelines import QualityGateError, Step

matplotlib.use("agg")


def _load(n):
    return {"raw": list(range(n))}


def _total(raw, floor):
    if sum(raw) < floor:
        raise QualityGateError("too small")
    return {"total": sum(raw)}


def _report(total):
    return {"report": f"total={total}"}


@pytest.fixture
def instance(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DAGSTER_DISABLE_TELEMETRY", raising=False)
    return dagster_instance(tmp_path / "dagster")


def _steps(load=_load):
    return [Step("load", load, params=("n",), outputs=("raw",)),
            Step("total", _total, inputs=("raw",), params=("floor",), outputs=("total",)),
            Step("report", _report, inputs=("total",), outputs=("report",))]


def test_instance_lives_in_the_given_folder_with_telemetry_off(instance, tmp_path):
    assert "enabled: false" in (tmp_path / "dagster" / "dagster.yaml").read_text()
    assert str(instance.root_directory) == str((tmp_path / "dagster").resolve())


def test_assets_run_retry_and_stop_at_a_gate(instance, tmp_path, capsys):
    import dagster as dg

    ok = run_assets(dagster_assets(_steps(), {"n": 3, "floor": 0}), instance, tmp_path / "io")
    assert ok.success and list(step_timeline(instance, ok.run_id)["step"]) == ["load", "total", "report"]
    assert capsys.readouterr().err == ""
    steps = _steps(load=flaky(_load, 2, tmp_path / "calls.txt"))
    retried = run_assets(dagster_assets(steps, {"n": 3, "floor": 0},
                                        retry_policies={"load": dg.RetryPolicy(max_retries=2)}), instance, tmp_path / "io")
    timeline = step_timeline(instance, retried.run_id)
    assert retried.success and timeline.set_index("step").loc["load", "attempts"] == 3
    gated = run_assets(dagster_assets(_steps(), {"n": 3, "floor": 100}), instance, tmp_path / "io")
    assert not gated.success and instance.get_run_by_id(gated.run_id).status.value == "FAILURE"
    assert list(step_timeline(instance, gated.run_id)["step"]) == ["load", "total"]
    partial = run_assets(dagster_assets(_steps(), {"n": 3, "floor": 0}), instance, tmp_path / "io", selection=["report"])
    assert list(step_timeline(instance, partial.run_id)["step"]) == ["report"]


def test_clear_errors(instance, tmp_path):
    with pytest.raises(KeyError, match="unknown steps"):
        dagster_assets(_steps(), {"n": 1, "floor": 0}, retry_policies={"nope": None})
    with pytest.raises(KeyError, match="Missing parameters"):
        dagster_assets(_steps(), {"n": 1})
    with pytest.raises(KeyError, match="No run"):
        step_timeline(instance, "not-a-run")
    with pytest.raises(ValueError, match="non-negative"):
        flaky(_load, -1, tmp_path / "c")


def test_flaky_is_deterministic(tmp_path):
    wrapped = flaky(_load, 1, tmp_path / "calls.txt")
    with pytest.raises(ConnectionError):
        wrapped(2)
    assert wrapped(2) == {"raw": [0, 1]}


def test_plots_draw_from_definitions():
    ax = plot_dag(["a", "b", "c"], [("a", "b"), ("b", "c"), ("a", "c")], status={"b": "failed"})
    assert {"a", "b", "c"} <= {t.get_text() for t in ax.texts}
    with pytest.raises(ValueError, match="not in"):
        plot_dag(["a"], [("a", "z")])
    frame = pd.DataFrame({"step": ["a", "b"], "start": [0.0, 1.0], "end": [1.0, 3.0], "attempts": [1, 2]})
    ax = plot_timeline(frame)
    assert len(ax.patches) == 2
    with pytest.raises(ValueError, match="columns"):
        plot_timeline(frame.drop(columns="end"))
