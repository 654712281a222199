"""Run an :class:`~course_lib.pipelines.MLPipeline`'s steps with a real orchestrator (Dagster), and draw it.

Dagster runs in-process here: no daemon, no web server. Its instance (run history, event logs)
lives in a folder of the workspace whose ``dagster.yaml`` switches telemetry off, and every
step's output is stored by Dagster's file-system IO manager, also in the workspace.

* :func:`dagster_instance` opens that instance; :func:`dagster_assets` turns the pipeline's steps
  into Dagster assets (one per step, the edges from the declared inputs), with retry policies;
* :func:`run_assets` materialises them quietly (Dagster's log lines would land on stderr);
* :func:`step_timeline` reads a run's steps back from the run history;
* :func:`flaky` makes a step fail deterministically the first N times (for teaching retries);
* :func:`plot_dag` and :func:`plot_timeline` draw the DAG and a run's Gantt chart.

``dagster`` and ``matplotlib`` are imported inside the functions: importing this module does nothing.

Introduced in 04-pipelines.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

__all__ = ["dagster_instance", "dagster_assets", "run_assets", "step_timeline", "flaky", "plot_dag", "plot_timeline"]

# Telemetry off; no compute-log capture (the default spawns `tail` and a watcher process per run).
_DAGSTER_YAML = """telemetry:
  enabled: false
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
"""


def dagster_instance(home: str | Path):
    """Open (creating if needed) a persistent Dagster instance in ``home``, telemetry off.

    Its ``dagster.yaml`` also turns off compute-log capture, which would otherwise start
    helper processes for every run; step events and failures are still in the run history.

    Sets ``DAGSTER_HOME`` to ``home`` for this process, so that nothing Dagster writes lands in
    the user's home folder.

    Introduced in 04-pipelines.
    """
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    home = Path(home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


def dagster_assets(steps: Sequence[Any], params: Mapping[str, Any], *,
                   retry_policies: Mapping[str, Any] | None = None) -> list:
    """Turn pipeline steps into Dagster assets: one asset per step, upstream assets from the inputs.

    Each asset returns its step's dict of outputs; Dagster stores it with its IO manager and
    hands it to the downstream assets, which pick the inputs they declared.

    Args:
        steps: :class:`~course_lib.pipelines.Step` objects in execution order.
        params: the values of the parameters the steps declare.
        retry_policies: ``{step name: dagster.RetryPolicy}`` for the steps that may be retried.

    Introduced in 04-pipelines.
    """
    import dagster as dg

    retry_policies = dict(retry_policies or {})
    names = [s.name for s in steps]
    unknown = sorted(set(retry_policies) - set(names))
    if unknown:
        raise KeyError(f"Retry policies for unknown steps {unknown}; the steps are {names}.")
    missing = sorted({p for s in steps for p in s.params} - set(params))
    if missing:
        raise KeyError(f"Missing parameters {missing} for the steps' declared params.")
    producer = {out: s.name for s in steps for out in s.outputs}
    assets = []
    for step in steps:
        absent = [i for i in step.inputs if i not in producer]
        if absent:
            raise ValueError(f"Step {step.name!r} reads {absent}, which no step produces.")
        upstream = sorted({producer[i] for i in step.inputs})
        assets.append(_asset(dg, step, upstream, producer, {p: params[p] for p in step.params},
                             retry_policies.get(step.name)))
    return assets


def _asset(dg, step, upstream: list[str], producer: dict[str, str], params: dict[str, Any], policy):
    @dg.asset(name=step.name, ins={u: dg.AssetIn(u) for u in upstream}, retry_policy=policy,
              code_version=step.code_version(), description=(step.func.__doc__ or "").strip() or None)
    def _compute(**upstream_outputs):
        kwargs = {i: upstream_outputs[producer[i]][i] for i in step.inputs}
        result = step.func(**kwargs, **params)
        if not isinstance(result, Mapping) or set(result) != set(step.outputs):
            raise ValueError(f"Step {step.name!r} must return a dict with keys {sorted(step.outputs)}.")
        return dict(result)

    return _compute


def run_assets(assets: Sequence[Any], instance: Any, io_dir: str | Path, *, selection: Sequence[str] | None = None,
               tags: Mapping[str, str] | None = None):
    """Materialise ``assets`` (or only the ``selection`` of them) in-process on ``instance``; never raise.

    Assets outside ``selection`` are not run: their latest stored outputs are loaded instead.

    Dagster's own log lines (it writes them to stderr) are kept out of the notebook; the run's
    events stay in the instance's run history. Returns Dagster's ``ExecuteInProcessResult``
    (``.success``, ``.run_id``).

    Introduced in 04-pipelines.
    """
    import dagster as dg

    chatter = io.StringIO()
    with contextlib.redirect_stderr(chatter):
        return dg.materialize(list(assets), instance=instance, tags=dict(tags or {}), raise_on_error=False,
                              selection=list(selection) if selection is not None else None,
                              resources={"io_manager": dg.FilesystemIOManager(base_dir=str(io_dir))})


def step_timeline(instance: Any, run_id: str) -> pd.DataFrame:
    """A run's steps from the run history: step, status, attempts, start, end, seconds (by start time).

    Steps that never started (downstream of a failure) are not in the history.

    Introduced in 04-pipelines.
    """
    if instance.get_run_by_id(run_id) is None:
        raise KeyError(f"No run {run_id!r} in the Dagster instance at {instance.root_directory}.")
    rows = [{"step": s.step_key, "status": s.status.value, "attempts": s.attempts,
             "start": s.start_time, "end": s.end_time}
            for s in instance.get_run_step_stats(run_id)]
    frame = pd.DataFrame(rows, columns=["step", "status", "attempts", "start", "end"])
    frame["seconds"] = frame["end"] - frame["start"]
    return frame.sort_values("start").reset_index(drop=True)


def flaky(func: Callable[..., Any], failures: int, counter_file: str | Path) -> Callable[..., Any]:
    """Wrap ``func`` so that its first ``failures`` calls raise ``ConnectionError``, deterministically.

    The number of calls so far is kept in ``counter_file`` (delete it to start again), so the
    behaviour survives the orchestrator re-invoking the step.

    Introduced in 04-pipelines.
    """
    if not isinstance(failures, int) or failures < 0:
        raise ValueError(f"failures must be a non-negative int, got {failures!r}.")
    counter = Path(counter_file)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        calls = int(counter.read_text()) if counter.exists() else 0
        counter.parent.mkdir(parents=True, exist_ok=True)
        counter.write_text(str(calls + 1))
        if calls < failures:
            raise ConnectionError(f"{func.__name__}: source not reachable (attempt {calls + 1} of the first {failures} that fail)")
        return func(*args, **kwargs)

    return wrapper


def plot_dag(nodes: Sequence[str], edges: Sequence[tuple[str, str]], *, status: Mapping[str, str] | None = None,
             ax: Any = None, title: str | None = None) -> Any:
    """Draw a DAG left to right, each node in the column of its longest path from a source.

    ``status`` (node → "ran", "reused", "failed", "skipped", "SUCCESS", …) colours the nodes.

    Introduced in 04-pipelines.
    """
    import matplotlib.pyplot as plt

    nodes = list(nodes)
    bad = [e for e in edges if e[0] not in nodes or e[1] not in nodes]
    if bad:
        raise ValueError(f"Edges {bad} name nodes that are not in {nodes}.")
    depth = {n: 0 for n in nodes}
    for _ in nodes:  # longest path; a DAG settles within len(nodes) passes
        for a, b in edges:
            depth[b] = max(depth[b], depth[a] + 1)
    rows: dict[int, list[str]] = {}
    for n in nodes:
        rows.setdefault(depth[n], []).append(n)
    pos = {n: (depth[n], -i + (len(rows[depth[n]]) - 1) / 2) for d in rows for i, n in enumerate(rows[d])}
    colours = {"ran": "#8fd18f", "success": "#8fd18f", "reused": "#b8cce4", "failed": "#f08080",
               "failure": "#f08080", "skipped": "#dddddd"}
    if ax is None:
        _, ax = plt.subplots(figsize=(1.9 * (max(depth.values()) + 1), 2.0 + 0.8 * max(len(r) for r in rows.values())))
    for a, b in edges:  # an edge that skips a column arcs over the nodes in between
        span = depth[b] - depth[a]
        ax.annotate("", xy=pos[b], xytext=pos[a],
                    arrowprops=dict(arrowstyle="-|>", color="#555555", shrinkA=26, shrinkB=26,
                                    connectionstyle=f"arc3,rad={(-0.2 if depth[a] % 2 else 0.2) if span > 1 else 0}"))
    for n in nodes:
        face = colours.get(str((status or {}).get(n, "")).lower(), "#fff2cc")
        ax.text(*pos[n], n, ha="center", va="center", fontsize=10,
                bbox=dict(boxstyle="round,pad=0.4", facecolor=face, edgecolor="#333333"))
    ax.set_xlim(-0.6, max(depth.values()) + 0.6)
    ax.set_ylim(min(p[1] for p in pos.values()) - 1.5, max(p[1] for p in pos.values()) + 1.5)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def plot_timeline(timeline: pd.DataFrame, *, ax: Any = None, title: str | None = None) -> Any:
    """Gantt chart of a run: one bar per step from ``start`` to ``end`` (seconds since the first start).

    ``timeline`` has the columns step, start, end and optionally status and attempts, as
    :func:`step_timeline` returns.

    Introduced in 04-pipelines.
    """
    import matplotlib.pyplot as plt

    missing = [c for c in ("step", "start", "end") if c not in timeline.columns]
    if missing or timeline.empty:
        raise ValueError(f"timeline needs rows and the columns step, start, end (missing {missing}).")
    frame = timeline.sort_values("start").reset_index(drop=True)
    origin = frame["start"].min()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(frame)))
    for i, row in frame.iterrows():
        failed = str(row.get("status", "")).lower() in ("failure", "failed")
        ax.barh(i, row["end"] - row["start"], left=row["start"] - origin, color="#f08080" if failed else "#6fa8dc")
        label = f" {int(row['attempts'])} attempts" if "attempts" in frame and row.get("attempts", 1) > 1 else ""
        ax.text(row["end"] - origin, i, label, va="center", fontsize=9)
    ax.set_yticks(range(len(frame)), frame["step"])
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the run's first step started")
    if title:
        ax.set_title(title)
    return ax
