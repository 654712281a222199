"""Binder builds what `make lab` builds, and the MLflow UI launcher is wired the same way everywhere.

The slow test installs environment.yml's pip list into a clean virtual environment from the package
index (pip's cache makes a second run quick), runs postBuild there as repo2docker would, and checks
that the course imports, `pip check` is clean and the instructor panels are disabled.
(That environment.yml repeats pyproject.toml's pins is tests/code/test_environment.py's job.)
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from course_tools import mlflow_ui

FIRST_NOTEBOOK = "notebooks/00-foundations/00-foundations.ipynb"
BINDER_URLPATH = f"urlpath=lab/tree/{FIRST_NOTEBOOK}"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _logical_lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\\\n", " ").splitlines()]


def _disabled(lines: list[str]) -> dict[str, set[str]]:
    """{"lab": labextensions disabled, "server": server extensions disabled} by these command lines."""
    found: dict[str, set[str]] = {"lab": set(), "server": set()}
    for line in lines:
        if " disable " not in f" {line} " or line.startswith("#"):
            continue
        words = shlex.split(line.split("||")[0].split(">")[0])
        kind = "lab" if "labextension" in words else "server" if "server" in words else None
        if kind:
            names = words[words.index("disable") + 1:]
            found[kind].update(w for w in names if not w.startswith("-"))
    return found


def _make_target(makefile: str, target: str) -> list[str]:
    lines = makefile.replace("\\\n", " ").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_postbuild_disables_exactly_what_make_lab_disables(root):
    in_make = _disabled(_make_target((root / "Makefile").read_text(), "lab"))
    in_postbuild = _disabled(_logical_lines((root / "postBuild").read_text()))
    assert in_make["lab"] and in_make["server"], f"could not read the Makefile's lab target: {in_make}"
    assert in_postbuild == in_make, f"postBuild disables {in_postbuild}, `make lab` disables {in_make}"
    assert all("nbgrader" in name for names in in_make.values() for name in names)
    assert not any("validate" in name for names in in_make.values() for name in names), \
        "learners keep nbgrader's Validate button"


def test_postbuild_installs_the_course_like_make_setup(root):
    text = (root / "postBuild").read_text()
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    assert os.access(root / "postBuild", os.X_OK), "repo2docker runs postBuild only when it is executable"
    installs = [line for line in _logical_lines(text) if "pip install" in line and not line.startswith("#")]
    assert len(installs) == 1 and shlex.split(installs[0])[-2:] == ["-e", "."], installs
    assert "pip install --quiet -e ." in (root / "Makefile").read_text(), "make setup changed: check postBuild"


def test_repo2docker_reads_the_files_at_the_top(root):
    """A binder/ folder (even an empty one in a local build) would make repo2docker ignore them."""
    assert (root / "environment.yml").is_file() and (root / "postBuild").is_file()
    if (root / ".git").exists() and shutil.which("git"):
        tracked = subprocess.run(["git", "-C", str(root), "ls-files", "binder", ".binder"],
                                 capture_output=True, text=True, check=True).stdout.split()
        assert not tracked, f"repo2docker would read only these, not the top-level files: {tracked}"


def test_binder_link_opens_the_first_notebook(root):
    assert (root / FIRST_NOTEBOOK).is_file()
    for doc in ("README.md", "docs/binder.md"):
        assert BINDER_URLPATH in (root / doc).read_text(), f"{doc} should give the launch link with {BINDER_URLPATH}"
    assert f"lab $(LAB_FLAGS) {FIRST_NOTEBOOK}" in (root / "Makefile").read_text(), "make lab opens another notebook"


def test_mlflow_launcher_entry_point(root):
    from jupyter_server_proxy.config import ServerProcess

    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared["jupyter_serverproxy_servers"] == {"mlflow": "course_tools.mlflow_ui:setup_mlflow"}
    config = mlflow_ui.setup_mlflow()
    process = ServerProcess(name="mlflow", **config)
    assert process.launcher_entry.title == "MLflow UI" and process.launcher_entry.path_info == "mlflow/"
    assert "{port}" in config["command"] and config["timeout"] >= 60
    assert config["environment"]["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"


def test_mlflow_server_command_is_small_and_local(tmp_path):
    command = mlflow_ui.server_command(tmp_path, 5123)
    options = {word: (command[i + 1] if i + 1 < len(command) and not command[i + 1].startswith("--") else True)
               for i, word in enumerate(command) if word.startswith("--")}
    assert command[1:4] == ["-m", "mlflow", "server"]
    assert options["--host"] == "127.0.0.1" and options["--port"] == "5123" and options["--workers"] == "1"
    assert options["--allowed-hosts"] == "*" and options["--cors-allowed-origins"] == "*"
    assert options["--backend-store-uri"] == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_which_store_the_launcher_serves(tmp_path, monkeypatch):
    course = tmp_path / "course"
    for module in ("00-foundations", "01-data", "02-features"):
        (course / "notebooks" / module).mkdir(parents=True)
    first, reason = mlflow_ui.choose_workspace(root=course)
    assert first == course / "notebooks" / "00-foundations" / "workspace" and "no store yet" in reason
    for age, module in ((300, "00-foundations"), (0, "01-data")):
        db = course / "notebooks" / module / "workspace" / "mlflow.db"
        db.parent.mkdir()
        db.write_bytes(b"")
        os.utime(db, (time.time() - age, time.time() - age))
    assert mlflow_ui.choose_workspace(root=course)[0].parent.name == "01-data", "the store used last"
    assert mlflow_ui.choose_workspace("00-foundations", root=course)[0].parent.name == "00-foundations"
    with pytest.raises(ValueError, match="known modules"):
        mlflow_ui.choose_workspace("09-monitoring", root=course)
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path / "elsewhere"))
    assert mlflow_ui.choose_workspace(root=course) == (tmp_path / "elsewhere", "COURSE_WORKSPACE")


def test_launcher_explains_a_remote_tracking_server(monkeypatch, capsys):
    page = mlflow_ui.explanation("http://tracking.example.org:5000/<x>")
    assert 'href="http://tracking.example.org:5000/&lt;x&gt;"' in page
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example.org:5000")
    assert mlflow_ui.main([]) == 0
    assert "use that server's UI" in capsys.readouterr().out


def _pip_part(root: Path) -> list[str]:
    env = yaml.safe_load((root / "environment.yml").read_text())
    return next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)


@pytest.mark.slow
def test_environment_yml_installs_in_a_clean_venv_and_postbuild_runs(root, tmp_path):
    venv, course = tmp_path / "venv", tmp_path / "course"
    shutil.copytree(root, course, ignore=shutil.ignore_patterns(
        ".venv", ".git", "workspace", "__pycache__", "*.egg-info", "binder", "benchmarks", "submitted",
        "autograded", "feedback", "gradebook.db", ".release-local", "*.backup-*"))
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python, env = venv / "bin" / "python", {**os.environ, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
                                            "VIRTUAL_ENV": str(venv), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("COURSE_ROOT", None)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(_pip_part(root)) + "\n")

    started = time.monotonic()
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
                             env=env, capture_output=True, text=True, timeout=1800)
    assert install.returncode == 0, f"pip install failed:\n{install.stdout[-3000:]}\n{install.stderr[-3000:]}"
    installed = time.monotonic() - started
    postbuild = subprocess.run(["bash", "postBuild"], cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert postbuild.returncode == 0, f"postBuild failed:\n{postbuild.stdout[-3000:]}\n{postbuild.stderr[-3000:]}"

    check = subprocess.run([str(python), "-m", "pip", "check"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, f"pip check:\n{check.stdout}{check.stderr}"
    imports = (
        "import importlib, pkgutil, course_lib, course_tools.mlflow_ui, course_tools.reset\n"
        "for m in pkgutil.iter_modules(course_lib.__path__): importlib.import_module('course_lib.' + m.name)\n"
        "import mlflow, sklearn, pandas, nbgrader, jupyterlab, jupyter_server_proxy, nbval, dagster, optuna\n"
        "from importlib.metadata import entry_points\n"
        "assert [ep.value for ep in entry_points(group='jupyter_serverproxy_servers') if ep.name == 'mlflow']"
        " == ['course_tools.mlflow_ui:setup_mlflow']\n"
        "from course_lib.paths import course_root; print(course_root())\n"
    )
    imported = subprocess.run([str(python), "-c", imports], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert Path(imported.stdout.strip().splitlines()[-1]) == course, "the course is not installed editable"

    lab = subprocess.run([str(venv / "bin" / "jupyter"), "labextension", "list"], env=env, capture_output=True, text=True)
    disabled_section = ANSI.sub("", lab.stdout + lab.stderr).split("Disabled extensions:")[-1]
    expected = _disabled(_make_target((root / "Makefile").read_text(), "lab"))
    assert all(name in disabled_section for name in expected["lab"]), disabled_section
    server = subprocess.run([str(venv / "bin" / "jupyter"), "server", "extension", "list"], env=env,
                            capture_output=True, text=True)
    listing = ANSI.sub("", server.stdout + server.stderr)
    for name in expected["server"]:
        assert f"{name} disabled" in listing, f"{name} is not disabled:\n{listing}"
    assert "jupyter_server_proxy enabled" in listing and "validate_assignment enabled" in listing
    print(f"\nclean venv: pip install {installed:.0f} s, postBuild {time.monotonic() - started - installed:.0f} s")
