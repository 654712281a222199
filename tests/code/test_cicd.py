"""course_lib.cicd: pytest in a subprocess, workflow checks, gated pipelines."""

import pytest

from course_lib import cicd

WORKFLOW = """
name: demo
on:
  push:
  pull_request:
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: python -m pytest
  deploy:
    needs: [test]
    runs-on: ubuntu-latest
    steps:
      - run: echo deploy
"""


def test_run_pytest_reads_outcomes_and_messages(tmp_path):
    (tmp_path / "test_demo.py").write_text(
        "import pytest\n\n"
        "def test_ok():\n    assert True\n\n"
        "def test_bad():\n    assert 1 == 2, 'one is not two'\n\n"
        "@pytest.mark.skip(reason='later')\ndef test_later():\n    pass\n"
    )
    report = cicd.run_pytest("test_demo.py", cwd=tmp_path)
    outcomes = {t["name"]: t["outcome"] for t in report.tests}
    assert outcomes == {"test_demo::test_ok": "passed", "test_demo::test_bad": "failed", "test_demo::test_later": "skipped"}
    assert report.returncode == 1 and not report.ok
    assert "one is not two" in next(t["message"] for t in report.tests if t["outcome"] == "failed")
    assert list(report.table().columns) == ["name", "outcome", "message"]
    assert "1 passed, 1 failed" in repr(report)
    assert not (tmp_path / ".pytest_cache").exists() and not (tmp_path / "__pycache__").exists()


def test_run_pytest_passes_env_and_imports_from_the_folder(tmp_path):
    (tmp_path / "code.py").write_text("VALUE = 3\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_env.py").write_text(
        "import os\nfrom code import VALUE\n\ndef test_env():\n    assert os.environ['WHICH'] == 'b' and VALUE == 3\n")
    report = cicd.run_pytest(["tests"], cwd=tmp_path, env={"WHICH": "b"})
    assert report.ok, report.output


def test_run_pytest_rejects_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        cicd.run_pytest("nope.py", cwd=tmp_path)
    with pytest.raises(FileNotFoundError):
        cicd.run_pytest("x.py", cwd=tmp_path / "missing")


def test_load_workflow_restores_the_on_key_and_checks_structure():
    workflow = cicd.load_workflow(WORKFLOW)
    assert set(workflow["on"]) == {"push", "pull_request"} and True not in workflow
    assert cicd.workflow_problems(workflow) == []
    assert cicd.job_levels(workflow) == [["test"], ["deploy"]]


def test_workflow_problems_names_what_is_wrong():
    workflow = cicd.load_workflow(WORKFLOW.replace("needs: [test]", "needs: [tests]").replace("- run: echo deploy", "- name: x"))
    problems = cicd.workflow_problems(workflow)
    assert any("needs 'tests'" in p for p in problems) and any("exactly one of" in p for p in problems)
    cyclic = cicd.load_workflow(WORKFLOW.replace("  test:\n    runs-on", "  test:\n    needs: deploy\n    runs-on"))
    assert any("cycle" in p for p in cicd.workflow_problems(cyclic))
    assert cicd.workflow_problems({"on": "push"}) == ["no jobs: add a `jobs:` mapping"]
    with pytest.raises(ValueError, match="not valid YAML"):
        cicd.load_workflow("jobs: [unclosed")
    with pytest.raises(ValueError, match="mapping"):
        cicd.load_workflow("- a list")


def test_run_pipeline_stops_at_the_first_failed_gate():
    calls = []

    def ok(name):
        return lambda ctx: (calls.append(name) or True, f"{name} done")

    def boom(ctx):
        raise RuntimeError("disk full")

    stages = [cicd.Stage("a", ok("a")), cicd.Stage("b", boom), cicd.Stage("c", ok("c"))]
    report = cicd.run_pipeline(stages, {})
    assert report["status"].tolist() == ["passed", "failed", "skipped"]
    assert calls == ["a"] and "RuntimeError: disk full" in report.loc[1, "detail"]
    after = cicd.run_pipeline([cicd.Stage("d", ok("d"))], {}, after=report)
    assert after["status"].tolist() == ["skipped"] and calls == ["a"]
    good = cicd.run_pipeline([cicd.Stage("a", ok("a"))], {})
    chained = cicd.run_pipeline([cicd.Stage("e", lambda ctx: (False, "gate"))], {}, after=good)
    assert chained["status"].tolist() == ["failed"] and chained.loc[0, "start"] >= good.loc[0, "seconds"]
    with pytest.raises(ValueError):
        cicd.run_pipeline([], {})


def test_plot_pipeline_draws_one_bar_per_stage():
    import matplotlib

    matplotlib.use("agg")
    report = cicd.run_pipeline([cicd.Stage("a", lambda ctx: (True, "")), cicd.Stage("b", lambda ctx: (False, ""))], {})
    ax = cicd.plot_pipeline(report)
    assert len(ax.patches) == 2 and [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
