import os
from pathlib import Path

import pytest

from course_lib.workspace import open_workspace, workspace_root


def test_default_workspace_is_next_to_the_notebook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert workspace_root() == tmp_path.resolve() / "workspace"


def test_embedded_store_keeps_everything_inside(tmp_path, monkeypatch):
    import mlflow

    cwd = tmp_path / "notebook-folder"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    ws = open_workspace("00-foundations", root=tmp_path / "ws")
    assert ws.embedded and ws.tracking_uri == f"sqlite:///{tmp_path / 'ws' / 'mlflow.db'}"
    assert mlflow.get_tracking_uri() == ws.tracking_uri
    assert os.environ["MLFLOW_DISABLE_TELEMETRY"] == "true"
    ws.experiment("demo")
    with mlflow.start_run() as run:
        mlflow.log_text("hello", "note.txt")
    with mlflow.start_run(experiment_id="0"):  # even the Default experiment stays inside
        mlflow.log_text("hello", "note.txt")
    assert list(cwd.iterdir()) == [], "nothing may be written next to the notebook"
    artifact = Path(mlflow.get_run(run.info.run_id).info.artifact_uri.removeprefix("file://")) / "note.txt"
    assert artifact.read_text() == "hello" and (tmp_path / "ws") in artifact.parents


def test_reopening_is_idempotent(tmp_path):
    first = open_workspace("00-foundations", root=tmp_path)
    experiment_id = first.experiment("demo")
    second = open_workspace("00-foundations", root=tmp_path)
    assert second == first and second.experiment("demo") == experiment_id


def test_course_workspace_env_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path / "elsewhere"))
    assert open_workspace("00-foundations").path == (tmp_path / "elsewhere").resolve()


def test_shared_store_namespaces_names(tmp_path, monkeypatch):
    shared = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", shared)
    alice = open_workspace("00-foundations", root=tmp_path / "alice")
    bob = open_workspace("00-foundations", root=tmp_path / "bob")
    assert not alice.embedded and alice.tracking_uri == shared
    assert alice.qualified("lifecycle") != bob.qualified("lifecycle")
    monkeypatch.setenv("COURSE_NAMESPACE", "team a")
    assert open_workspace("00-foundations", root=tmp_path / "c").qualified("m") == "team-a.m"


@pytest.mark.parametrize("bad", ["foundations", "0-x", "00_Foundations", "", None])
def test_bad_module_name_is_a_clear_error(bad, tmp_path):
    with pytest.raises(ValueError, match="00-foundations"):
        open_workspace(bad, root=tmp_path)


def test_subdir_refuses_escaping_paths(tmp_path):
    ws = open_workspace("00-foundations", root=tmp_path)
    assert ws.subdir("lake").is_dir()
    for bad in ("", "../x", "/etc"):
        with pytest.raises(ValueError):
            ws.subdir(bad)


def test_autograde_ignores_a_global_workspace(tmp_path, monkeypatch):
    """Two students graded with COURSE_WORKSPACE left set must still get separate stores."""
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path / "shared"))
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    roots = []
    for student in ("alice", "bob"):
        folder = tmp_path / "autograded" / student / "00-foundations"
        folder.mkdir(parents=True)
        monkeypatch.chdir(folder)
        roots.append(open_workspace("00-foundations").path)
    assert roots == [tmp_path / "autograded" / s / "00-foundations" / "workspace" for s in ("alice", "bob")]
