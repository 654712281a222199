"""Background servers that clean up after themselves.

Several notebooks start real servers (an MLflow model endpoint, the course's
own router or feature service). A server left running after the notebook ends
holds memory (Binder gives ~2 GB for everything) and a port, so every server
started here:

* runs in its own process group, under a small supervisor
  (:mod:`course_lib._supervisor`) that stops the whole group when the kernel
  that started it dies, however it dies;
* listens on a free port on the loopback interface (``127.0.0.1``) only;
* is waited for until it answers a readiness URL, and fails with the tail of
  its log if it exits or does not answer in time;
* is stopped when the kernel exits (``atexit``), when a server of the same
  name is started again (re-running a cell), or by :func:`stop_all`.

Introduced in 00-foundations.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["Server", "free_port", "start_server", "serve_model", "stop_all", "running_servers", "JSONHandler", "serve_http"]

_RUNNING: dict[str, "Server"] = {}
_ATEXIT_REGISTERED = False


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now.

    Introduced in 00-foundations.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running background server (see :func:`start_server`).

    Introduced in 00-foundations.
    """

    name: str
    port: int
    process: subprocess.Popen
    log_path: Path
    command: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:5123``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """True while the server's supervisor is alive."""
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log file."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log written)"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and everything it started; safe to call twice."""
        _RUNNING.pop(self.name, None)
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        # The supervisor waits for its children, but make sure nothing of the group is left,
        # and return only once it is gone (SIGKILL is delivered asynchronously).
        _signal_group(self.process.pid, signal.SIGKILL)
        _wait_group_gone(self.process.pid)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else f"stopped (exit code {self.process.returncode})"
        return f"Server({self.name!r}, url={self.url!r}, {state}, log='{self.log_path}')"


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of the process group ``pgid``."""
    import psutil

    members = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def _wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _wait_ready(server: Server, ready_path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = server.url + ready_path
    while time.monotonic() < deadline:
        if not server.running:
            raise RuntimeError(
                f"Server {server.name!r} exited with code {server.process.returncode} before it was ready.\n"
                f"Last lines of {server.log_path}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.2)
    server.stop()
    raise TimeoutError(
        f"Server {server.name!r} did not answer {url} within {timeout:.0f} s and was stopped.\n"
        f"Last lines of {server.log_path}:\n{server.log_tail()}"
    )


def start_server(
    name: str,
    command: Sequence[str],
    *,
    log_dir: str | Path,
    ready_path: str = "/",
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> Server:
    """Start ``command`` as a supervised background server and wait until it is ready.

    Args:
        name: a short name; starting another server with the same name stops this one first.
        command: the program and its arguments; the text ``{port}`` in any argument is
            replaced by a free loopback port.
        log_dir: folder for ``<name>.log`` (usually ``ws.subdir("servers")``).
        ready_path: the server is ready when ``GET http://127.0.0.1:<port><ready_path>``
            answers with a status below 500.
        timeout: seconds to wait for readiness.
        env: extra environment variables for the server.
        cwd: working folder of the server (default: ``log_dir``).

    Returns:
        The ready :class:`Server`.

    Introduced in 00-foundations.
    """
    global _ATEXIT_REGISTERED
    if not name or not isinstance(name, str):
        raise ValueError("A server needs a non-empty name.")
    if not command or not all(isinstance(part, str) for part in command):
        raise ValueError(f"command must be a non-empty list of strings, got {command!r}.")
    if not ready_path.startswith("/"):
        raise ValueError(f"ready_path must start with '/', got {ready_path!r}.")
    if name in _RUNNING:
        _RUNNING[name].stop()

    port = free_port()
    argv = [part.replace("{port}", str(port)) for part in command]
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    # Tools a server starts (uvicorn for `mlflow models serve`) live next to this interpreter,
    # which is not on PATH when Jupyter was started as .venv/bin/jupyter without activating.
    bin_dir = str(Path(sys.executable).parent)
    child_env["PATH"] = os.pathsep.join([bin_dir, child_env.get("PATH", "")])
    supervised = [sys.executable, "-m", "course_lib._supervisor", str(os.getpid()), "--", *argv]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            supervised,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=child_env,
            cwd=str(cwd or log_dir),
            start_new_session=True,  # own session and process group
        )
    server = Server(name=name, port=port, process=process, log_path=log_path, command=argv)
    _RUNNING[name] = server
    if not _ATEXIT_REGISTERED:
        atexit.register(stop_all)
        _ATEXIT_REGISTERED = True
    _wait_ready(server, ready_path, timeout)
    return server


def serve_model(model_uri: str, ws, *, name: str = "model", timeout: float = 90.0) -> Server:
    """Serve an MLflow model (e.g. ``"models:/churn@champion"``) as a REST endpoint.

    Runs ``mlflow models serve`` with the current environment (no conda/virtualenv
    creation, nothing downloaded) and one worker, against the workspace's
    tracking store. The endpoint answers ``/ping`` and ``/invocations``.

    Introduced in 00-foundations.
    """
    if not isinstance(model_uri, str) or ":" not in model_uri:
        raise ValueError(f"model_uri must be an MLflow URI like 'models:/name@alias' or 'runs:/<id>/model', got {model_uri!r}.")
    command = [
        sys.executable, "-m", "mlflow", "models", "serve",
        "-m", model_uri, "--env-manager", "local",
        "-h", "127.0.0.1", "-p", "{port}", "-w", "1",
    ]
    env = {"MLFLOW_TRACKING_URI": ws.tracking_uri, "MLFLOW_REGISTRY_URI": ws.tracking_uri}
    return start_server(name, command, log_dir=ws.subdir("servers"), ready_path="/ping", timeout=timeout, env=env)


def running_servers() -> list[Server]:
    """The servers this kernel started that are still running.

    Introduced in 00-foundations.
    """
    return [server for server in _RUNNING.values() if server.running]


def stop_all() -> None:
    """Stop every server this kernel started.

    Introduced in 00-foundations.
    """
    for server in list(_RUNNING.values()):
        server.stop()


class JSONHandler(BaseHTTPRequestHandler):
    """Base request handler of the course's small HTTP services: JSON in, JSON out, quiet log.

    Subclasses write ``do_GET``/``do_POST``/``do_PUT`` with :meth:`_send` and :meth:`_body`.

    Introduced in 07-serving.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # otherwise small keep-alive answers wait ~40 ms for a delayed ACK

    def log_message(self, *args: Any) -> None:  # one line per request would flood the server's log
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                           **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")


def serve_http(handler: type[BaseHTTPRequestHandler], port: int, banner: str) -> int:
    """Serve ``handler`` on 127.0.0.1:``port`` until interrupted (the body of each service's ``main``).

    Prints ``banner`` once listening (``start_server`` waits for the readiness path, not for it).

    Introduced in 07-serving.
    """
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    print(banner, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
