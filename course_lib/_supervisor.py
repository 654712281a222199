"""Run a server and stop its whole process group when the kernel that started it goes away.

Usage (done for you by :func:`course_lib.servers.start_server`)::

    python -m course_lib._supervisor <parent-pid> -- <command> [args...]

The supervisor is the leader of its own process group; the server and anything
it forks inherit that group. It exits, taking the group down with it, when

* the server exits (with the server's exit code),
* it receives SIGTERM / SIGINT / SIGHUP (``Server.stop()`` sends SIGTERM to the group), or
* its parent process (the notebook kernel) has died — even by SIGKILL, when no
  ``atexit`` handler could run.

Introduced in 00-foundations.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

_GRACE_SECONDS = 8.0


def _stop_group(child: subprocess.Popen) -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        os.killpg(os.getpgid(0), signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        child.wait(timeout=_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        pass
    code = child.returncode if child.returncode is not None else -signal.SIGKILL
    sys.stderr.flush()
    try:
        os.killpg(os.getpgid(0), signal.SIGKILL)  # also ends this process
    except ProcessLookupError:
        pass
    return code


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m course_lib._supervisor <parent-pid> -- <command> [args...]", file=sys.stderr)
        return 2
    parent = int(argv[0])
    command = argv[2:]
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, request_stop)
    try:
        child = subprocess.Popen(command)
    except OSError as error:
        print(f"supervisor: cannot start {command[0]!r}: {error}", file=sys.stderr)
        return 127
    while True:
        code = child.poll()
        if code is not None:
            print(f"supervisor: server exited with code {code}", file=sys.stderr)
            return _stop_group(child)
        if stop_requested or os.getppid() != parent:
            return _stop_group(child)
        time.sleep(0.25)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
