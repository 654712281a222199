"""`python -m course_tools.reset NN-topic`: the released notebook back, the learner's copy kept."""

from __future__ import annotations

import shutil
import subprocess

import nbformat
import pytest

from course_tools import reset as reset_tool

MODULE = "00-foundations"


def _course(root, tmp_path):
    course = tmp_path / "course"
    for folder in ("solutions", "notebooks"):
        shutil.copytree(root / folder / MODULE, course / folder / MODULE,
                        ignore=shutil.ignore_patterns("workspace", ".ipynb_checkpoints", "*.backup-*"))
    shutil.copy(root / "nbgrader_config.py", course)
    return course


def _git(course, *args):
    subprocess.run(["git", "-c", "user.name=Course", "-c", "user.email=course@example.org", "-C", str(course), *args],
                   check=True, capture_output=True)


def _learner_edits(course):
    path = course / "notebooks" / MODULE / f"{MODULE}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source += "\n\nMy notes: hash every row."
    nbformat.write(nb, path)
    workspace = path.parent / "workspace"
    workspace.mkdir()
    (workspace / "mlflow.db").write_bytes(b"runs")
    return path, path.read_text()


@pytest.fixture
def checkout(root, tmp_path):
    course = _course(root, tmp_path)
    _git(course, "init", "-q")
    _git(course, "add", "-A")
    _git(course, "commit", "-q", "-m", "release")
    return course


def test_git_checkout_restores_head_and_keeps_a_backup(checkout):
    released = (checkout / "notebooks" / MODULE / f"{MODULE}.ipynb").read_text()
    path, edited = _learner_edits(checkout)
    result = reset_tool.reset(MODULE, root=checkout)
    assert result.source == "git (HEAD)"
    assert path.read_text() == released
    assert result.backup is not None and result.backup.parent == path.parent
    assert result.backup.name.startswith(f"{MODULE}.backup-") and result.backup.suffix == ".ipynb"
    assert result.backup.read_text() == edited, "the learner's work must survive the reset"
    assert result.workspace_removed == path.parent / "workspace" and not result.workspace_removed.exists()


def test_keep_workspace_and_no_backup_of_an_untouched_notebook(checkout):
    path, _ = _learner_edits(checkout)
    first = reset_tool.reset(MODULE, root=checkout, keep_workspace=True)
    assert first.workspace_removed is None and (path.parent / "workspace" / "mlflow.db").exists()
    second = reset_tool.reset(MODULE, root=checkout, keep_workspace=True)
    assert second.backup is None, "resetting a released notebook needs no backup"
    assert len(list(path.parent.glob("*.backup-*.ipynb"))) == 1


def test_two_resets_in_the_same_second_keep_both_backups(checkout):
    path, _ = _learner_edits(checkout)
    first = reset_tool.reset(MODULE, root=checkout)
    path.write_text(path.read_text() + "\n")
    second = reset_tool.reset(MODULE, root=checkout)
    assert first.backup != second.backup and first.backup.exists() and second.backup.exists()


def test_without_git_the_release_is_rebuilt_from_solutions(root, tmp_path):
    course = _course(root, tmp_path)
    path, edited = _learner_edits(course)
    path.unlink()  # even a deleted notebook comes back
    result = reset_tool.reset(MODULE, root=course)
    assert result.source == "a fresh release of solutions/" and result.backup is None
    rebuilt = nbformat.read(path, as_version=4)
    expected = nbformat.read(root / "notebooks" / MODULE / f"{MODULE}.ipynb", as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in rebuilt.cells]
    assert ids == [c.metadata.get("nbgrader", {}).get("grade_id") for c in expected.cells]
    assert "BEGIN SOLUTION" not in path.read_text() and "BEGIN HIDDEN TESTS" not in path.read_text()
    assert not list(course.glob("*.db")), "the rebuild must not touch the course's gradebook"


def test_clear_errors(root, tmp_path):
    course = _course(root, tmp_path)
    with pytest.raises(ValueError, match="known modules: \\['00-foundations'\\]"):
        reset_tool.reset("99-nothing", root=course)
    shutil.rmtree(course / "solutions")
    with pytest.raises(FileNotFoundError, match="not a git checkout"):
        reset_tool.reset(MODULE, root=course)


def test_command_line(checkout, monkeypatch, capsys):
    _learner_edits(checkout)
    monkeypatch.setenv("COURSE_ROOT", str(checkout))
    assert reset_tool.main([MODULE, "--keep-workspace"]) == 0
    out = capsys.readouterr().out
    assert f"Your notebook is saved as notebooks/{MODULE}/{MODULE}.backup-" in out
    assert "Restored" in out and "Removed" not in out
    with pytest.raises(SystemExit):
        reset_tool.main(["not-a-module"])
