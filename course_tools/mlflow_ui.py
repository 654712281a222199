"""The MLflow UI of the course's tracking store, inside JupyterLab or on its own.

Every module keeps its own MLflow store, ``notebooks/NN-topic/workspace/mlflow.db``
(see ``course_lib.workspace``). This command starts the MLflow UI on one of them:

    python -m course_tools.mlflow_ui                  # the store you used last
    python -m course_tools.mlflow_ui 03-experiments   # that module's store
    python -m course_tools.mlflow_ui --workspace DIR  # the store in DIR/mlflow.db
    python -m course_tools.mlflow_ui --which          # say which store, start nothing

Which store, when none is named:

1. ``COURSE_WORKSPACE`` set: the store in that folder;
2. otherwise the module whose store changed last (the notebook you ran most recently);
3. no store yet: the first module's (empty until you run its notebook).

In JupyterLab the launcher tile *MLflow UI* (jupyter-server-proxy, path ``/mlflow/``)
runs this command with the port the proxy chose, once, when it is first opened: it
keeps showing the store it started with. For another module, run the command above
in a terminal and open ``<JupyterLab address>/proxy/<port>/``.

If ``MLFLOW_TRACKING_URI`` is set, the course logs to that server, whose own UI is the
one to use: nothing is started, and the launcher shows a page saying where it is.

The server is bound to 127.0.0.1 (only Jupyter's authenticated proxy reaches it), with
one worker and no job runner (about 0.5 GB instead of about 1.8 GB); the Host and
CORS checks are opened because behind a proxy the browser's host is not 127.0.0.1.
"""

from __future__ import annotations

import argparse
import html
import http.server
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

MODULE_PATTERN = re.compile(r"^\d\d-[a-z0-9]+(?:-[a-z0-9]+)*$")
FIRST_MODULE = "00-foundations"
SERVER_ENV = {
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no job runner and queue consumers (~1.3 GB saved)
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "GIT_PYTHON_REFRESH": "quiet",
}


def course_root() -> Path:
    """The course checkout (``COURSE_ROOT`` when set, as in ``course_lib.paths``)."""
    override = os.environ.get("COURSE_ROOT")
    return Path(override).resolve() if override else Path(__file__).resolve().parent.parent


def module_stores(root: Path | None = None) -> dict[str, Path]:
    """The existing module stores under ``notebooks/``: ``{"00-foundations": .../mlflow.db, ...}``."""
    notebooks = (root or course_root()) / "notebooks"
    if not notebooks.is_dir():
        return {}
    return {
        db.parent.parent.name: db
        for db in sorted(notebooks.glob("*/workspace/mlflow.db"))
        if MODULE_PATTERN.match(db.parent.parent.name)
    }


def choose_workspace(module: str | None = None, workspace: str | Path | None = None,
                     root: Path | None = None) -> tuple[Path, str]:
    """Return the workspace folder whose store to serve, and why it was chosen.

    Raises:
        ValueError: ``module`` is not a module of the course.
    """
    root = root or course_root()
    if workspace is not None:
        return Path(workspace).expanduser().resolve(), "the folder given with --workspace"
    if module is not None:
        known = sorted(p.name for p in (root / "notebooks").iterdir() if MODULE_PATTERN.match(p.name)) \
            if (root / "notebooks").is_dir() else []
        if module not in known:
            raise ValueError(f"No module {module!r} in {root / 'notebooks'}; known modules: {known}.")
        return root / "notebooks" / module / "workspace", f"module {module}"
    configured = os.environ.get("COURSE_WORKSPACE")
    if configured:
        return Path(configured).expanduser().resolve(), "COURSE_WORKSPACE"
    stores = module_stores(root)
    if stores:
        name, db = max(stores.items(), key=lambda item: item[1].stat().st_mtime)
        return db.parent, f"module {name}: the store that changed last"
    return root / "notebooks" / FIRST_MODULE / "workspace", f"module {FIRST_MODULE}: no store yet, empty until its notebook runs"


def server_command(workspace: Path, port: int) -> list[str]:
    """The ``mlflow server`` command serving ``workspace/mlflow.db`` on ``127.0.0.1:port``."""
    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{workspace / 'mlflow.db'}",
        "--default-artifact-root", (workspace / "mlartifacts").as_uri(),
        "--no-serve-artifacts",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--allowed-hosts", "*", "--cors-allowed-origins", "*",
    ]


def explanation(tracking_uri: str) -> str:
    """The page shown instead of a UI when ``MLFLOW_TRACKING_URI`` points elsewhere."""
    uri = html.escape(tracking_uri)
    link = f'<a href="{uri}">{uri}</a>' if tracking_uri.startswith(("http://", "https://")) else f"<code>{uri}</code>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>MLflow UI</title></head><body>"
        "<h1>MLflow UI</h1><p>This course logs to the tracking server set by <code>MLFLOW_TRACKING_URI</code>: "
        f"{link}. Its UI is the one that shows your runs, so no second server was started here.</p>"
        "<p>Unset <code>MLFLOW_TRACKING_URI</code> and restart JupyterLab to browse the notebooks' own "
        "stores (<code>notebooks/NN-topic/workspace/mlflow.db</code>).</p></body></html>"
    )


def serve_explanation(port: int, tracking_uri: str) -> None:
    """Answer every request on ``127.0.0.1:port`` with :func:`explanation` (runs until stopped)."""
    body = explanation(tracking_uri).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _stop_group(process: subprocess.Popen, grace: float = 8.0) -> None:
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(process.pid, signal.SIGKILL)  # workers left behind by the server
    except ProcessLookupError:
        pass


def run_server(workspace: Path, port: int) -> int:
    """Run ``mlflow server`` in its own process group until it exits, we are stopped, or our parent dies."""
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "mlartifacts").mkdir(exist_ok=True)
    env = {**os.environ, **SERVER_ENV}
    env.pop("MLFLOW_TRACKING_URI", None)
    bin_dir = str(Path(sys.executable).parent)  # uvicorn next to this interpreter
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    parent = os.getppid()
    # course_lib's supervisor leads the server's process group and takes it down when this process
    # dies, even by SIGKILL (as jupyter-server-proxy does to a launcher that was not ready in time).
    supervised = [sys.executable, "-m", "course_lib._supervisor", str(os.getpid()), "--",
                  *server_command(workspace, port)]
    process = subprocess.Popen(supervised, cwd=workspace, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    stop = {"requested": False}

    def request_stop(signum: int, frame: object) -> None:
        stop["requested"] = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, request_stop)
    while process.poll() is None and not stop["requested"] and os.getppid() == parent:
        time.sleep(0.25)
    code = process.poll()
    _stop_group(process)
    return 0 if code is None else code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_tools.mlflow_ui", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module", nargs="?", help="a module, e.g. 03-experiments (default: the store used last)")
    parser.add_argument("--workspace", help="a workspace folder holding mlflow.db")
    parser.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default 5000)")
    parser.add_argument("--which", action="store_true", help="print the store that would be served and exit")
    parser.add_argument("--from-jupyter", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    remote = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if remote and not (args.module or args.workspace):
        print(f"MLFLOW_TRACKING_URI is set ({remote}): the course logs there; use that server's UI.", flush=True)
        if args.from_jupyter:
            serve_explanation(args.port, remote)
        return 0
    try:
        workspace, reason = choose_workspace(args.module, args.workspace)
    except ValueError as error:
        parser.error(str(error))
    store = workspace / "mlflow.db"
    print(f"MLflow UI for {store} ({reason})", flush=True)
    if args.which:
        return 0
    if not args.from_jupyter:
        print(f"Open http://127.0.0.1:{args.port}/ - inside JupyterLab: <JupyterLab address>/proxy/{args.port}/ "
              "(ready in about 10 s; Ctrl+C stops it).", flush=True)
    return run_server(workspace, args.port)


def setup_mlflow() -> dict:
    """jupyter-server-proxy's entry point: the *MLflow UI* launcher tile at ``/mlflow/``."""
    return {
        "command": [sys.executable, "-m", "course_tools.mlflow_ui", "--from-jupyter", "--port", "{port}"],
        "environment": dict(SERVER_ENV),
        "absolute_url": False,
        "timeout": 120,
        "new_browser_tab": True,
        "launcher_entry": {"title": "MLflow UI", "enabled": True, "category": "Other"},
    }


if __name__ == "__main__":
    sys.exit(main())
