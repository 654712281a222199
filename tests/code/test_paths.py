import pytest

from course_lib import paths


def test_root_is_the_checkout_whatever_the_cwd(tmp_path, monkeypatch, root):
    monkeypatch.chdir(tmp_path)
    assert paths.course_root() == root
    assert paths.datasets_dir() == root / "datasets"


def test_missing_dataset_file_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="No dataset file"):
        paths.dataset_path("no-such-file.csv")
    with pytest.raises(ValueError):
        paths.dataset_path()


def test_course_root_override_must_hold_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="COURSE_ROOT"):
        paths.course_root()
