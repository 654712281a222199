import numpy as np
import pandas as pd
import pytest

from course_lib.registry import (
    Decision, champion_history, lineage_table, plot_champion_timeline, plot_lineage, promote, rollback,
)
from course_lib.tracking import log_sklearn_model
from course_lib.workspace import open_workspace


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One workspace folder for the file's tests (creating a store is the slow part)."""
    return tmp_path_factory.mktemp("registry-store")


@pytest.fixture()
def registry(store, request):
    """A model of three versions of its own, each trained on a logged dataset."""
    import mlflow
    from sklearn.linear_model import LogisticRegression

    ws = open_workspace("05-registry", root=store)
    ws.experiment("registry-test")
    frame = pd.DataFrame({"a": np.arange(40.0), "b": np.arange(40.0) % 3})
    frame["y"] = (frame.a > 19).astype(int)
    name = ws.qualified(f"model-{request.node.name[:40]}")
    versions = []
    for i, rows in enumerate((frame, frame, frame.iloc[5:])):
        with mlflow.start_run(run_name=f"run-{i}"):
            mlflow.set_tag("code_version", "abc")
            mlflow.log_input(mlflow.data.from_pandas(rows, name="toy", targets="y"), context="training")
            model = LogisticRegression().fit(rows[["a", "b"]], rows.y)
            info = log_sklearn_model(model, rows[["a", "b"]].head(3), registered_model_name=name)
        versions.append(str(info.registered_model_version))
    return mlflow.MlflowClient(), name, versions


def approve(candidate, champion):
    return Decision(True, ["ok"])


def reject(candidate, champion):
    return Decision(False, ["too weak"])


def test_promote_moves_alias_only_on_approval_and_records_reasons(registry):
    client, name, (v1, v2, v3) = registry
    assert promote(name, v1, approve).approved
    assert str(client.get_model_version_by_alias(name, "champion").version) == v1
    assert not promote(name, v2, reject).approved
    assert str(client.get_model_version_by_alias(name, "champion").version) == v1
    tags = client.get_model_version(name, v2).tags
    assert tags["gate.decision"] == "rejected" and tags["gate.reasons"] == "too weak"
    assert tags["gate.compared_with"] == v1
    promote(name, v3, approve)
    assert str(client.get_model_version_by_alias(name, "previous-champion").version) == v1
    assert rollback(name, reason="bad") == v1
    assert str(client.get_model_version_by_alias(name, "champion").version) == v1
    assert client.get_model_version(name, v3).tags["rolled_back"] == "bad"
    history = champion_history(name)
    assert list(history.event) == ["promote", "rejected", "promote", "rollback"]
    assert list(history.champion) == [v1, v1, v3, v1]
    assert plot_champion_timeline(history) is not None


def test_promote_and_rollback_errors_are_clear(registry):
    _, name, (v1, *_rest) = registry
    with pytest.raises(TypeError, match="Decision"):
        promote(name, v1, lambda candidate, champion: True)
    with pytest.raises(ValueError, match="no version"):
        promote(name, "999", approve)
    with pytest.raises(ValueError, match="nothing to roll back"):
        rollback(name, reason="why")
    with pytest.raises(ValueError, match="why you roll back"):
        rollback(name, reason=" ")


def test_lineage_reads_runs_datasets_and_aliases(registry):
    client, name, (v1, v2, v3) = registry
    promote(name, v2, approve)
    table = lineage_table(name, versions=[v1, v2, v3])
    assert list(table.version) == [v1, v2, v3]
    assert table.dataset_digest[0] == table.dataset_digest[1] != table.dataset_digest[2]
    assert set(table.dataset_name) == {"toy"} and set(table.code_version) == {"abc"}
    assert table.aliases[1] == ["champion"] and table.aliases[0] == []
    assert plot_lineage(table) is not None
    with pytest.raises(ValueError, match="No registered model"):
        lineage_table("no-such-model")
    with pytest.raises(KeyError, match="lineage_table"):
        plot_lineage(pd.DataFrame({"version": ["1"]}))
