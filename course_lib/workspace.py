"""The workspace: one folder for everything a notebook writes.

A notebook opens its workspace in its first code cell::

    from course_lib.workspace import open_workspace
    ws = open_workspace("00-foundations")

and from then on the MLflow tracking store, its artifacts, the data lake and the
log files of any server the notebook starts all live under ``ws.path``.

Where it is:

* ``COURSE_WORKSPACE`` set → that folder (tests and the benchmark give each
  notebook run its own temporary one);
* otherwise ``./workspace`` next to the running notebook. Under nbgrader the
  autograder runs every submission in ``autograded/<student>/<assignment>/``,
  so two students' runs never share a workspace (``COURSE_WORKSPACE`` is
  ignored while autograding, and ``workspace`` is in the ignore list of
  ``nbgrader_config.py``, so a learner's own is never submitted).

Which tracking store:

* by default an embedded SQLite store, ``<workspace>/mlflow.db``, with artifacts
  in ``<workspace>/mlartifacts`` — nothing to start, nothing to configure;
* if ``MLFLOW_TRACKING_URI`` is set, that server or database instead. A shared
  store is shared by everybody, so experiment and model names are then prefixed
  with a namespace (``COURSE_NAMESPACE``, or the user and workspace folder) to
  keep people's runs apart.

The store is append-only, like a real one: re-running a notebook adds runs and
model versions, it never deletes them. Checks look at the runs a notebook
created, not at how many exist.

Introduced in 00-foundations.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Workspace", "open_workspace", "workspace_root"]

WORKSPACE_ENV = "COURSE_WORKSPACE"
NAMESPACE_ENV = "COURSE_NAMESPACE"
_EMBEDDED_URIS: set[str] = set()  # embedded stores this process opened
_MODULE_PATTERN = re.compile(r"^\d\d-[a-z0-9-]+$")

# Settings that keep MLflow offline and quiet; applied before mlflow is imported.
_OFFLINE_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}


def workspace_root() -> Path:
    """Return the folder a workspace opened now would use (``COURSE_WORKSPACE`` or ``./workspace``).

    Under ``nbgrader autograde`` it is always ``./workspace`` (the submission's own folder), so
    that a ``COURSE_WORKSPACE`` left in the grader's environment cannot mix students' runs.

    Introduced in 00-foundations.
    """
    grading = os.environ.get("NBGRADER_EXECUTION") == "autograde"
    configured = None if grading else os.environ.get(WORKSPACE_ENV)
    return Path(configured).expanduser().resolve() if configured else Path.cwd().resolve() / "workspace"


@dataclass(frozen=True)
class Workspace:
    """Everything a notebook writes, in one folder, and the tracking store it uses.

    Attributes:
        module: the notebook's module, e.g. ``"00-foundations"``.
        path: the workspace folder.
        tracking_uri: the MLflow tracking (and registry) URI in use.
        namespace: prefix for experiment and model names on a shared store, else ``""``.

    Introduced in 00-foundations.
    """

    module: str
    path: Path
    tracking_uri: str
    namespace: str = ""

    @property
    def embedded(self) -> bool:
        """True when the tracking store is the workspace's own SQLite file."""
        return self.tracking_uri.startswith("sqlite:///") and self.tracking_uri.endswith(
            str(self.path / "mlflow.db")
        )

    @property
    def artifacts_dir(self) -> Path:
        """Folder for MLflow artifacts of the embedded store."""
        return self.path / "mlartifacts"

    def subdir(self, name: str) -> Path:
        """Return (and create) a sub-folder of the workspace, e.g. ``ws.subdir("lake")``."""
        if not name or Path(name).is_absolute() or ".." in Path(name).parts:
            raise ValueError(f"A workspace sub-folder must be a plain relative name, not {name!r}.")
        folder = self.path / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def qualified(self, name: str) -> str:
        """Return ``name`` prefixed with the namespace on a shared store (unchanged when embedded)."""
        if not name or not name.strip():
            raise ValueError("Experiment and model names must be non-empty strings.")
        return f"{self.namespace}.{name}" if self.namespace else name

    def experiment(self, name: str) -> str:
        """Create the experiment ``name`` if needed, make it the active one and return its id.

        On the embedded store its artifacts go to ``<workspace>/mlartifacts/<name>``,
        never to the current folder.
        """
        import mlflow

        full_name = self.qualified(name)
        client = mlflow.MlflowClient(self.tracking_uri)
        existing = client.get_experiment_by_name(full_name)
        if existing is None:
            location = (self.artifacts_dir / _safe(name)).as_uri() if self.embedded else None
            experiment_id = client.create_experiment(full_name, artifact_location=location)
        elif existing.lifecycle_stage == "deleted":
            client.restore_experiment(existing.experiment_id)
            experiment_id = existing.experiment_id
        else:
            experiment_id = existing.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id

    def describe(self) -> str:
        """One line saying where things go, for the notebook's first output."""
        store = "embedded SQLite store" if self.embedded else f"tracking server {self.tracking_uri}"
        extra = f", names prefixed '{self.namespace}.'" if self.namespace else ""
        return f"Workspace for {self.module}: {self.path} ({store}{extra})"

    def __repr__(self) -> str:
        return f"Workspace(module={self.module!r}, path='{self.path}', tracking_uri={self.tracking_uri!r})"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "experiment"


def _namespace(path: Path) -> str:
    configured = os.environ.get(NAMESPACE_ENV, "").strip()
    if configured:
        return _safe(configured)
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    return _safe(f"{user}-{digest}")


def open_workspace(module: str, *, root: str | Path | None = None) -> Workspace:
    """Open (creating if needed) the workspace of a module and point MLflow at its store.

    Args:
        module: the notebook's module folder name, e.g. ``"00-foundations"``.
        root: the workspace folder; default ``COURSE_WORKSPACE`` or ``./workspace``.

    Returns:
        The :class:`Workspace`. MLflow's tracking and registry URIs are set for
        this kernel; telemetry is switched off.

    Introduced in 00-foundations.
    """
    if not isinstance(module, str) or not _MODULE_PATTERN.match(module):
        raise ValueError(
            f"module must look like '00-foundations' (two digits, a dash, lower-case words), got {module!r}."
        )
    for key, value in _OFFLINE_ENV.items():
        os.environ.setdefault(key, value)

    # MLflow's INFO messages ("Creating initial MLflow database tables...") go to stderr, and nbgrader
    # gives no points to a graded cell that writes to stderr: keep MLflow to warnings and errors
    # (the environment variable for a first import, the level for an mlflow imported earlier).
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    path = Path(root).expanduser().resolve() if root is not None else workspace_root()
    path.mkdir(parents=True, exist_ok=True)

    remote = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if remote in _EMBEDDED_URIS:  # MLflow exports the URI we set for subprocesses: not a user's choice
        remote = ""
    if remote:
        tracking_uri, namespace = remote, _namespace(path)
    else:
        tracking_uri, namespace = f"sqlite:///{path / 'mlflow.db'}", ""
        _EMBEDDED_URIS.add(tracking_uri)
        _initialise_sqlite_store(tracking_uri, path / "mlartifacts")

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    if not remote:  # forget an active experiment of a store this kernel used before
        mlflow.set_experiment(experiment_id="0")
    return Workspace(module=module, path=path, tracking_uri=tracking_uri, namespace=namespace)


def _initialise_sqlite_store(tracking_uri: str, artifacts: Path) -> None:
    """Create the SQLite store once, so even the Default experiment keeps its artifacts inside."""
    db_file = Path(tracking_uri.removeprefix("sqlite:///"))
    if db_file.exists():
        return
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    artifacts.mkdir(parents=True, exist_ok=True)
    store = SqlAlchemyStore(tracking_uri, artifacts.as_uri())
    store.engine.dispose()
