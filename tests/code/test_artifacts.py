import hashlib
import json

import pytest

from course_lib.artifacts import MANIFEST, list_files, sha256_file, verify_manifest, write_manifest


@pytest.fixture()
def bundle(tmp_path):
    folder = tmp_path / "bundle"
    (folder / "model_dir").mkdir(parents=True)
    (folder / "model_dir" / "model.skops").write_bytes(b"\x00model")
    (folder / "serving.json").write_text(json.dumps({"threshold": 0.5}))
    write_manifest(folder, version="3")
    return folder


def test_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert sha256_file(path) == hashlib.sha256(b"abc" * 1000).hexdigest()
    with pytest.raises(FileNotFoundError):
        sha256_file(tmp_path / "missing")


def test_manifest_lists_every_file_but_itself(bundle):
    manifest = json.loads((bundle / MANIFEST).read_text())
    assert sorted(manifest["files"]) == ["model_dir/model.skops", "serving.json"]
    assert manifest["metadata"] == {"version": "3"}
    assert verify_manifest(bundle) == []
    assert list(list_files(bundle).columns) == ["file", "bytes", "sha256"]


def test_tampering_is_reported_by_file(bundle):
    (bundle / "serving.json").write_text(json.dumps({"threshold": 0.05}))
    (bundle / "model_dir" / "model.skops").unlink()
    (bundle / "model_dir" / "extra.py").write_text("print(1)")
    assert verify_manifest(bundle) == [
        "missing: model_dir/model.skops", "changed: serving.json", "unexpected: model_dir/extra.py",
    ]


def test_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="MANIFEST"):
        verify_manifest(tmp_path)
    with pytest.raises(ValueError, match="no files"):
        write_manifest(tmp_path)
    with pytest.raises(FileNotFoundError):
        list_files(tmp_path / "nope")


def test_generate_dockerfile_works_offline(tmp_path):
    import mlflow
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from course_lib.artifacts import generate_dockerfile
    from course_lib.tracking import log_sklearn_model
    from course_lib.workspace import open_workspace

    ws = open_workspace("05-registry", root=tmp_path / "ws")
    ws.experiment("artifacts-test")
    X = pd.DataFrame({"a": np.arange(20.0)})
    with mlflow.start_run():
        info = log_sklearn_model(LogisticRegression().fit(X, (X.a > 9).astype(int)), X.head(2))
    dockerfile, seconds = generate_dockerfile(info.model_uri, tmp_path / "out")
    assert dockerfile.is_file() and (tmp_path / "out" / "model_dir" / "MLmodel").is_file()
    assert "FROM python" in dockerfile.read_text() and seconds > 0
