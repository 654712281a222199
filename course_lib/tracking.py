"""Experiment tracking helpers on top of MLflow.

The one thing MLflow does slowly on a small machine is ``log_model``: without
``pip_requirements`` it starts a subprocess that imports the model to infer
them (about 7 s and 300 MB here). The course knows exactly what its models
need, so it says so, and logging a model takes a fraction of a second.

Introduced in 00-foundations.
"""

from __future__ import annotations

import warnings
from importlib import metadata
from typing import Any, Sequence

__all__ = ["pip_requirements", "log_sklearn_model", "runs_table"]

_TRUSTED_PACKAGES = {"sklearn", "numpy", "scipy", "builtins", "collections"}
_SKLEARN_STACK = ("mlflow", "scikit-learn", "numpy", "pandas", "scipy", "cloudpickle", "skops")


def pip_requirements(*extra: str) -> list[str]:
    """Return pinned requirements (``name==version``) for a scikit-learn model, plus ``extra``.

    Versions are read from the running environment, so the logged model asks for
    exactly what trained it.

    >>> any(r.startswith("scikit-learn==") for r in pip_requirements())
    True

    Introduced in 00-foundations.
    """
    pinned = []
    for name in (*_SKLEARN_STACK, *extra):
        try:
            pinned.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError as error:
            raise ValueError(f"Package {name!r} is not installed, so a model cannot require it.") from error
    return pinned


def log_sklearn_model(
    model: Any,
    input_example: Any,
    *,
    name: str = "model",
    registered_model_name: str | None = None,
    extra_requirements: Sequence[str] = (),
    trusted_types: Sequence[str] = (),
):
    """Log a fitted scikit-learn model to the active run, fast and with a signature.

    Args:
        model: a fitted estimator or pipeline.
        input_example: a few rows of the model's input (a DataFrame keeps column names
            in the signature, which the REST endpoint then enforces).
        name: the model's name inside the run.
        registered_model_name: also register it as a new version of this model.
        extra_requirements: more packages the model needs at load time.
        trusted_types: extra types (``"module.Class"``) that MLflow's skops format may load.
            Types from scikit-learn, NumPy and SciPy (a forest's ``Tree``, say) are trusted
            automatically; anything else must be named here, on purpose.

    Returns:
        MLflow's ``ModelInfo`` (``model_uri``, ``registered_model_version`` …).

    Introduced in 00-foundations.
    """
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except Exception as error:  # NotFittedError or a non-estimator
        raise ValueError(f"Only a fitted scikit-learn model can be logged: {error}") from error
    if mlflow.active_run() is None:
        raise RuntimeError("Start a run first: `with mlflow.start_run(): log_sklearn_model(...)`.")
    with warnings.catch_warnings():
        # Integer columns could not hold missing values at serving time; the course's inputs have none.
        warnings.filterwarnings("ignore", message=".*Inferred schema contains integer column")
        signature = infer_signature(input_example, model.predict(input_example))
        return mlflow.sklearn.log_model(
            model,
            name=name,
            signature=signature,
            input_example=input_example,
            registered_model_name=registered_model_name,
            pip_requirements=pip_requirements(*extra_requirements),
            skops_trusted_types=_trusted_types(model, trusted_types),
        )


def _trusted_types(model: Any, extra: Sequence[str]) -> list[str]:
    """Types skops must be told to trust to load ``model``: the stack's own, plus ``extra``."""
    import skops.io

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    stack = [t for t in untrusted if t.split(".")[0] in _TRUSTED_PACKAGES]
    unknown = sorted(set(untrusted) - set(stack) - set(extra))
    if unknown:
        raise ValueError(
            f"The model contains types that are not part of scikit-learn/NumPy/SciPy: {unknown}. "
            "If you wrote them and trust them, pass trusted_types=[...] naming them."
        )
    return sorted(set(stack) | set(extra))


def runs_table(experiment: str, *, ws=None, columns: Sequence[str] | None = None):
    """Return the runs of an experiment as a DataFrame, oldest first.

    Args:
        experiment: the experiment's name (qualified with the workspace namespace when ``ws`` is given).
        ws: the workspace, so that a shared store's namespace is applied.
        columns: keep only these columns (e.g. ``["run_id", "params.max_depth", "metrics.accuracy"]``).

    Introduced in 00-foundations.
    """
    import mlflow

    full_name = ws.qualified(experiment) if ws is not None else experiment
    if mlflow.get_experiment_by_name(full_name) is None:
        raise ValueError(f"No experiment named {full_name!r} in {mlflow.get_tracking_uri()}.")
    runs = mlflow.search_runs(experiment_names=[full_name], order_by=["attributes.start_time ASC"])
    if columns is not None:
        missing = [c for c in columns if c not in runs.columns]
        if missing:
            raise KeyError(f"Columns {missing} are not in the runs table; it has {sorted(runs.columns)}.")
        runs = runs[list(columns)]
    return runs.reset_index(drop=True)
