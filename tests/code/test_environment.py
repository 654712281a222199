"""The dependency pins live in pyproject.toml; environment.yml (Binder) must repeat them exactly."""

import re
import sys
import tomllib
from importlib import metadata

import yaml


def _pyproject(root):
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]


def _pins(requirements):
    pins = {}
    for line in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)", line.strip())
        assert match, f"'{line}' is not pinned with == (pin every dependency in pyproject.toml)"
        pins[match.group(1).lower().replace("_", "-")] = match.group(2)
    return pins


def test_every_dependency_is_pinned(root):
    assert _pins(_pyproject(root)["dependencies"])


def test_environment_yml_repeats_the_pins(root):
    env = yaml.safe_load((root / "environment.yml").read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1, "environment.yml needs exactly one pip: section"
    in_yml, in_toml = _pins(pip_sections[0]), _pins(_pyproject(root)["dependencies"])
    only_yml = {k: v for k, v in in_yml.items() if in_toml.get(k) != v}
    only_toml = {k: v for k, v in in_toml.items() if in_yml.get(k) != v}
    assert not only_yml and not only_toml, (
        f"environment.yml and pyproject.toml disagree.\n  environment.yml: {only_yml}\n  pyproject.toml:  {only_toml}"
    )


def test_environment_python_fits_requires_python(root):
    env = yaml.safe_load((root / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    major, minor = map(int, python.split("=")[1].split(".")[:2])
    assert (3, 11) <= (major, minor) < (3, 13), f"{python} is outside requires-python"


def test_installed_versions_match_the_pins(root):
    """The environment running the tests is the pinned one (catches a stale venv)."""
    wrong = {}
    for name, version in _pins(_pyproject(root)["dependencies"]).items():
        installed = metadata.version(name)
        if installed != version:
            wrong[name] = f"pinned {version}, installed {installed}"
    assert not wrong, f"Re-run the setup command; installed packages differ from the pins: {wrong}"
