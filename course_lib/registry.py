"""The model registry: gated promotion with aliases, rollback, and lineage pictures.

A registered model is a name with numbered, immutable versions; *aliases* such as
``champion`` and ``challenger`` are movable pointers to versions (MLflow's stages are
deprecated). This module moves them only through a gate:

* :func:`promote` asks a *gate* (any callable returning a :class:`Decision`) whether a
  version may become ``champion``, records the decision and its reasons as version tags,
  keeps the previous champion under ``previous-champion`` and appends the event to the
  model's history;
* :func:`rollback` puts the previous champion back;
* :func:`champion_history` and :func:`plot_champion_timeline` show who held the alias when;
* :func:`lineage_table` and :func:`plot_lineage` follow versions back to their runs and
  the exact dataset versions (digests) they were trained on.

Nothing happens at import: MLflow and matplotlib are imported by the functions that need them.

Introduced in 05-registry.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import pandas as pd

__all__ = [
    "Decision", "model_version", "promote", "rollback", "champion_history", "plot_champion_timeline",
    "lineage_table", "plot_lineage",
]

CHAMPION = "champion"
PREVIOUS = "previous-champion"
HISTORY_TAG = "champion_history"  # a registered-model tag: JSON list of events
_MAX_EVENTS = 40  # tag values are limited in size; the newest events are kept


@dataclass(frozen=True)
class Decision:
    """A gate's answer: may the candidate be promoted, and why.

    Attributes:
        approved: True to promote.
        reasons: human-readable reasons, e.g. ``["val AUC 0.857 >= champion's 0.852"]``.

    Introduced in 05-registry.
    """

    approved: bool
    reasons: list[str] = field(default_factory=list)


Gate = Callable[[Any, Any], Decision]


def _client(client: Any = None) -> Any:
    if client is not None:
        return client
    from mlflow import MlflowClient

    return MlflowClient()


def model_version(name: str, version: str | int, *, client: Any = None) -> Any:
    """The registry's record of ``version`` of ``name``; ValueError (not MLflow's error) when there is none.

    Introduced in 05-registry.
    """
    from mlflow.exceptions import MlflowException

    try:
        return _client(client).get_model_version(name, str(version))
    except MlflowException as error:
        raise ValueError(f"Model {name!r} has no version {version!r}: register it first.") from error


def _version_or_none(client: Any, name: str, alias: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _append_history(client: Any, name: str, event: str, version: str | None, note: str) -> None:
    model = client.get_registered_model(name)
    events = json.loads(model.tags.get(HISTORY_TAG, "[]"))
    events.append({"at": time.time(), "event": event, "champion": version, "note": note[:120]})
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(events[-_MAX_EVENTS:]))


def promote(name: str, version: str | int, gate: Gate, *, alias: str = CHAMPION,
            previous_alias: str = PREVIOUS, client: Any = None) -> Decision:
    """Move ``alias`` to ``version`` if, and only if, ``gate`` approves it.

    The gate is called as ``gate(candidate, champion)`` with MLflow ``ModelVersion`` objects
    (``champion`` is ``None`` when the alias is not set yet) and must return a :class:`Decision`.
    Whatever it decides is recorded on the candidate as tags ``gate.decision``
    (``approved``/``rejected``), ``gate.reasons`` and ``gate.compared_with``. On approval the
    old champion keeps the alias ``previous_alias``, so :func:`rollback` can restore it.

    Args:
        name: the registered model's (qualified) name.
        version: the candidate version.
        gate: a callable ``(candidate, champion) -> Decision``.
        alias: the alias to move.
        previous_alias: the alias that keeps the replaced version.
        client: an ``MlflowClient``; the default one when omitted.

    Returns:
        The gate's :class:`Decision`.

    Raises:
        TypeError: if the gate does not return a Decision.
        ValueError: if ``version`` is not a version of ``name``.

    Introduced in 05-registry.
    """
    client = _client(client)
    candidate = model_version(name, version, client=client)
    champion = _version_or_none(client, name, alias)
    decision = gate(candidate, champion)
    if not isinstance(decision, Decision):
        raise TypeError(f"A gate must return course_lib.registry.Decision(approved, reasons), not {decision!r}.")
    verdict = "approved" if decision.approved else "rejected"
    compared = str(champion.version) if champion is not None else "none"
    client.set_model_version_tag(name, candidate.version, "gate.decision", verdict)
    client.set_model_version_tag(name, candidate.version, "gate.reasons", "; ".join(decision.reasons) or "-")
    client.set_model_version_tag(name, candidate.version, "gate.compared_with", compared)
    if decision.approved:
        if champion is not None and str(champion.version) != str(candidate.version):
            client.set_registered_model_alias(name, previous_alias, champion.version)
        client.set_registered_model_alias(name, alias, candidate.version)
        _append_history(client, name, "promote", str(candidate.version), "; ".join(decision.reasons))
    else:
        _append_history(client, name, "rejected", compared if champion else None,
                        f"v{candidate.version}: " + "; ".join(decision.reasons))
    return decision


def rollback(name: str, reason: str, *, alias: str = CHAMPION, previous_alias: str = PREVIOUS,
             client: Any = None) -> str:
    """Give ``alias`` back to the version held under ``previous_alias``; return that version.

    The demoted version is tagged ``rolled_back`` with ``reason``; ``previous_alias`` is removed,
    so a second rollback cannot bring the bad version back by accident.

    Raises:
        ValueError: if ``reason`` is empty or there is no previous champion to restore.

    Introduced in 05-registry.
    """
    if not reason or not reason.strip():
        raise ValueError("Say why you roll back: rollback(name, reason='...').")
    client = _client(client)
    previous = _version_or_none(client, name, previous_alias)
    if previous is None:
        raise ValueError(f"Model {name!r} has no alias {previous_alias!r}: there is nothing to roll back to.")
    current = _version_or_none(client, name, alias)
    if current is not None:
        client.set_model_version_tag(name, current.version, "rolled_back", reason)
    client.set_registered_model_alias(name, alias, previous.version)
    client.delete_registered_model_alias(name, previous_alias)
    _append_history(client, name, "rollback", str(previous.version), reason)
    return str(previous.version)


def champion_history(name: str, *, since: float | None = None, client: Any = None) -> pd.DataFrame:
    """Return the promotion, rejection and rollback events of a model, oldest first.

    Columns: ``at`` (datetime), ``event``, ``champion`` (the version holding the alias after
    the event, or None), ``note``. ``since`` (a ``time.time()`` value) keeps later events only.

    Introduced in 05-registry.
    """
    client = _client(client)
    events = json.loads(client.get_registered_model(name).tags.get(HISTORY_TAG, "[]"))
    frame = pd.DataFrame(events, columns=["at", "event", "champion", "note"])
    if since is not None:
        frame = frame[frame["at"] >= since]
    frame["at"] = pd.to_datetime(frame["at"], unit="s")
    return frame.reset_index(drop=True)


def plot_champion_timeline(history: pd.DataFrame, *, ax: Any = None) -> Any:
    """Draw which version held ``champion`` after each event of :func:`champion_history`.

    Introduced in 05-registry.
    """
    import matplotlib.pyplot as plt

    missing = {"event", "champion"} - set(history.columns)
    if missing:
        raise KeyError(f"history needs the columns event and champion (from champion_history); missing {missing}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 2.8))
    held = history["champion"].fillna("none").astype(str).tolist()
    levels = sorted(set(held), key=lambda v: (v == "none", int(v) if v.isdigit() else 0))
    y = [levels.index(v) for v in held]
    ax.step(range(len(y)), y, where="post", color="#4c72b0")
    colours = {"promote": "#55a868", "rejected": "#8c8c8c", "rollback": "#c44e52"}
    for i, (event, level) in enumerate(zip(history["event"], y)):
        ax.scatter(i, level, s=80, color=colours.get(event, "k"), zorder=3)
        ax.annotate(event, (i, level), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_yticks(range(len(levels)), [f"v{v}" if v != "none" else v for v in levels])
    ax.set_xticks(range(len(y)), [f"#{i + 1}" for i in range(len(y))])
    ax.set_ylim(-0.6, len(levels) - 0.3)
    ax.set_xlabel("event")
    ax.set_ylabel("champion after it")
    return ax


def lineage_table(name: str, versions: Sequence[str | int] | None = None, *, client: Any = None) -> pd.DataFrame:
    """Follow model versions back to their runs, code versions and training datasets.

    Reads only the store: each version's run, its ``code_version`` tag and the datasets it
    logged with ``mlflow.log_input`` (context ``training``), plus the aliases on each version.

    Args:
        name: the registered model's name.
        versions: the versions to include (default: all).

    Returns:
        One row per version: ``version``, ``run_id``, ``run_name``, ``code_version``,
        ``dataset_name``, ``dataset_digest``, ``aliases`` (a list).

    Introduced in 05-registry.
    """
    client = _client(client)
    found = client.search_model_versions(f"name = '{name}'")
    if not found:
        raise ValueError(f"No registered model named {name!r} (or it has no versions).")
    wanted = {str(v) for v in versions} if versions is not None else None
    rows = []
    for mv in sorted(found, key=lambda m: int(m.version)):
        if wanted is not None and str(mv.version) not in wanted:
            continue
        mv = client.get_model_version(name, mv.version)  # search results omit aliases
        run = client.get_run(mv.run_id)
        training = [d.dataset for d in run.inputs.dataset_inputs
                    if any(t.key == "mlflow.data.context" and t.value == "training" for t in d.tags)]
        rows.append({
            "version": str(mv.version), "run_id": mv.run_id, "run_name": run.info.run_name,
            "code_version": run.data.tags.get("code_version"),
            "dataset_name": training[0].name if training else None,
            "dataset_digest": training[0].digest if training else None,
            "aliases": sorted(getattr(mv, "aliases", []) or []),
        })
    return pd.DataFrame(rows, columns=["version", "run_id", "run_name", "code_version",
                                       "dataset_name", "dataset_digest", "aliases"])


def plot_lineage(table: pd.DataFrame, *, ax: Any = None) -> Any:
    """Draw a lineage graph dataset → run → version → alias from :func:`lineage_table`.

    Introduced in 05-registry.
    """
    import matplotlib.pyplot as plt

    missing = {"version", "run_id", "run_name", "dataset_name", "dataset_digest", "aliases"} - set(table.columns)
    if missing:
        raise KeyError(f"table needs the columns of lineage_table(); missing {sorted(missing)}.")
    datasets = list(dict.fromkeys(f"{n}\n@{d}" for n, d in zip(table["dataset_name"], table["dataset_digest"])))
    aliases = sorted({a for names in table["aliases"] for a in names})
    runs = [f"{n}\n{r[:6]}" for n, r in zip(table["run_name"], table["run_id"])]
    columns = [datasets, runs, [f"v{v}" for v in table["version"]], aliases]
    height = max(len(c) for c in columns)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.8 + 0.7 * height))
    place = {}
    for x, (nodes, colour) in enumerate(zip(columns, ["#4c72b0", "#dd8452", "#55a868", "#c44e52"])):
        for i, node in enumerate(nodes):
            y = height - 1 - i * (height - 1) / max(len(nodes) - 1, 1) if len(nodes) > 1 else (height - 1) / 2
            place[(x, node)] = (x, y)
            ax.text(x, y, node, ha="center", va="center", fontsize=8,
                    bbox={"boxstyle": "round", "fc": "white", "ec": colour})
    for _, row in table.iterrows():
        chain = [(0, f"{row['dataset_name']}\n@{row['dataset_digest']}"), (1, f"{row['run_name']}\n{row['run_id'][:6]}"), (2, f"v{row['version']}")]
        chain_edges = list(zip(chain, chain[1:])) + [((2, f"v{row['version']}"), (3, a)) for a in row["aliases"]]
        for start, end in chain_edges:
            (x0, y0), (x1, y1) = place[start], place[end]
            ax.annotate("", (x1 - 0.22, y1), (x0 + 0.22, y0), arrowprops={"arrowstyle": "->", "color": "#999"})
    ax.set_xlim(-0.6, 3.6)
    ax.set_ylim(-0.8, height - 0.2)
    ax.set_xticks(range(4), ["dataset version", "training run", "model version", "alias"])
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    return ax
