"""Shared fixtures. Tests never write into the checkout: each run gets temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from course_tools import notebooks

ROOT = notebooks.course_root()


@pytest.fixture(autouse=True)
def _quiet_offline_env(monkeypatch, tmp_path_factory):
    """Keep every tool's caches out of $HOME and MLflow offline, for every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MPLCONFIGDIR", str(home / "mpl"))
    monkeypatch.setenv("IPYTHONDIR", str(home / "ipython"))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.setenv("MPLBACKEND", "agg")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("COURSE_WORKSPACE", raising=False)


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def pytest_terminal_summary(terminalreporter):
    """Say which syllabus concepts still wait for their module."""
    from course_lib.syllabus import concepts_by_module

    existing = set(notebooks.assignments(ROOT))
    waiting = {m: [c.id for c in cs] for m, cs in concepts_by_module().items() if m not in existing}
    if waiting:
        total = sum(len(ids) for ids in waiting.values())
        terminalreporter.section(f"syllabus: {total} concepts wait for modules not written yet")
        for module, ids in waiting.items():
            terminalreporter.write_line(f"{module}: {', '.join(ids)}")
