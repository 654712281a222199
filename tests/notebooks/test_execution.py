"""Every solution notebook runs top to bottom (nbval, lax) twice in the same workspace and leaves nothing running."""

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from course_tools import notebooks, sandbox
from course_tools.grading import isolated_env

ROOT = notebooks.course_root()
ASSIGNMENTS = notebooks.assignments(ROOT)


def _tagged_processes(tag: str) -> list[str]:
    return sandbox.describe(sandbox.processes_with("COURSE_TEST_TAG", tag))


@pytest.mark.notebook
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_runs_twice_in_one_workspace_and_leaves_no_process(name, tmp_path):
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(notebooks.solution_path(name, ROOT), folder)
    tag = uuid.uuid4().hex
    env = isolated_env(tmp_path / "home", COURSE_WORKSPACE=str(tmp_path / "workspace"), COURSE_TEST_TAG=tag)
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
               "-q", "-o", "addopts=", "--rootdir", str(folder), str(folder / f"{name}.ipynb")]
    for attempt in ("first", "second"):
        result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{name}: {attempt} run failed\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}"
    deadline = time.monotonic() + 10
    while (left := _tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"{name} left processes running:\n" + "\n".join(left)
    written = sorted(p.name for p in folder.iterdir() if p.name != f"{name}.ipynb")
    assert written == [], f"{name} wrote {written} next to the notebook instead of into its workspace"
