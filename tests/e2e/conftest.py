"""JupyterLab for real: a temporary copy of the course served on loopback, with a token.

Each test gets its own copy (so nothing is written into the checkout), its own Jupyter
config, data, runtime and settings folders (so nothing is read from or written to $HOME),
and leaves no process behind: everything it started carries a tag in its environment
and is looked for after the server stops.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from course_tools import notebooks, sandbox

ROOT = notebooks.course_root()
CHROMIUM = Path("/usr/bin/chromium")
# Flags that keep Debian's Chromium headless, offline and quiet in a container.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
_IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "workspace", "__pycache__", "*.egg-info", ".ipynb_checkpoints", "mlruns", "mlartifacts",
    "gradebook.db", "submitted", "autograded", "feedback", "benchmarks", ".release-local", "binder", "*.backup-*",
)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: starts servers, a browser or installs packages (tens of seconds or more)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_course(target: Path) -> Path:
    """A copy of the checkout's course files (no venv, no git, no workspaces)."""
    shutil.copytree(ROOT, target, ignore=_IGNORED)
    return target


def tagged_processes(tag: str) -> list[str]:
    return sandbox.describe(sandbox.processes_with("COURSE_TEST_TAG", tag))


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path
    tag: str
    proxy_from: str  # "entry point" or "config file"

    def get(self, path: str, *, timeout: float = 30.0, data: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.url + path, data=data, headers={
            "Authorization": f"token {self.token}", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _mlflow_launcher_registered() -> bool:
    return any(ep.name == "mlflow" for ep in entry_points(group="jupyter_serverproxy_servers"))


def _write_config(home: Path) -> tuple[dict[str, str], str]:
    config, data, runtime = home / "config", home / "data", home / "runtime"
    settings, workspaces = home / "lab-settings", home / "lab-workspaces"
    for folder in (config / "labconfig", data, runtime, settings, workspaces):
        folder.mkdir(parents=True, exist_ok=True)
    # No "official Jupyter news?" pop-up over the notebook.
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    # Every cell in the page (JupyterLab otherwise renders only the cells in view).
    tracker = settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    proxy_from = "entry point"
    if not _mlflow_launcher_registered():
        # The course is installed from an older pyproject.toml (before the launcher's entry point):
        # declare the same launcher through Jupyter's config instead.
        (config / "jupyter_server_config.py").write_text(
            "from course_tools.mlflow_ui import setup_mlflow\n"
            "c.ServerProxy.servers = {'mlflow': setup_mlflow()}\n")
        proxy_from = "config file"
    env = {
        "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_DATA_DIR": str(data), "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(workspaces),
    }
    return env, proxy_from


def start_lab(course: Path, home: Path, *, timeout: float = 90.0, any_host: bool = False,
              env: dict[str, str] | None = None) -> Lab:
    """Start JupyterLab on 127.0.0.1 serving ``course``; wait until its API answers.

    ``any_host`` accepts requests whatever their Host header, as JupyterHub or Binder do
    (the server still listens on loopback only). ``env`` adds environment variables.
    """
    token, port, tag = secrets.token_hex(16), free_port(), f"e2e-{secrets.token_hex(6)}"
    jupyter_env, proxy_from = _write_config(home)
    extra_env = env or {}
    env = notebooks.with_venv_on_path({
        **os.environ, **jupyter_env,
        "COURSE_ROOT": str(course), "COURSE_TEST_TAG": tag, "PYTHONUNBUFFERED": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
    })
    for key in ("MLFLOW_TRACKING_URI", "COURSE_WORKSPACE", "JUPYTER_TOKEN"):
        env.pop(key, None)
    env.update(extra_env)
    log = home / "jupyter.log"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
        "--ServerApp.port_retries=0",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    if any_host:
        command.append("--ServerApp.allow_remote_access=True")
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=course, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(url=f"http://127.0.0.1:{port}", token=token, root=course, process=process, log=log, tag=tag,
              proxy_from=proxy_from)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{lab.log_tail()}")
        try:
            if lab.get("/api/status", timeout=2)[0] == 200:
                return lab
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.3)
    stop_lab(lab)
    raise TimeoutError(f"JupyterLab did not answer within {timeout:.0f} s:\n{lab.log_tail()}")


def stop_lab(lab: Lab) -> list[str]:
    """Stop JupyterLab (its kernels and proxied servers stop with it); return what was left running."""
    if lab.process.poll() is None:
        os.killpg(lab.process.pid, signal.SIGTERM)
        try:
            lab.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.process.pid, signal.SIGKILL)
            lab.process.wait(timeout=5)
    deadline = time.monotonic() + 20
    while (left := tagged_processes(lab.tag)) and time.monotonic() < deadline:
        time.sleep(0.5)
    for line in left:  # do not leave them to the next test, but report them
        try:
            os.kill(int(line.split(":")[0]), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    return left


@pytest.fixture
def course(tmp_path) -> Path:
    """A temporary copy of the course."""
    return copy_course(tmp_path / "course")


@pytest.fixture
def lab_factory(tmp_path):
    """Start JupyterLab on a course folder; everything started is stopped (and checked) afterwards."""
    started: list[Lab] = []

    def start(course: Path, **options) -> Lab:
        lab = start_lab(course, tmp_path / f"jupyter-home-{len(started)}", **options)
        started.append(lab)
        return lab

    yield start
    left = [line for lab in started for line in stop_lab(lab)]
    assert not left, "processes left running after JupyterLab stopped:\n" + "\n".join(left)


@pytest.fixture
def chromium() -> dict:
    """Launch options for Debian's Chromium; a missing browser skips locally and fails in CI."""
    if CHROMIUM.exists():
        return {"executable_path": str(CHROMIUM), "headless": True, "args": list(CHROMIUM_ARGS)}
    message = f"{CHROMIUM} is missing: install it with `apt-get install chromium` (.ci/run does this in CI)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)
