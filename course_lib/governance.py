"""Governance as code: a promotion policy, governed promotion, lifecycle stages and model cards.

* :class:`Policy` writes down what a model version must show before it may serve:
  required metadata, metric floors, fairness ceilings, an approval by someone other
  than its author, and who may promote at all (least privilege);
* :func:`check_policy` checks a version (or plain evidence) against it and says why;
* :func:`governed_promote` moves the alias only when the policy allows it, through
  :func:`course_lib.registry.promote`, and appends the decision to an audit trail;
* :func:`set_stage` and :func:`retire` walk a version through the lifecycle
  development → staging → production → deprecated → archived, never deleting it;
* :func:`model_card` writes a model card from the tracking store, and
  :func:`log_model_card` logs it on the run of the version it describes.

Nothing happens at import: MLflow is imported by the functions that need it.

Introduced in 10-governance.
"""

from __future__ import annotations

import hashlib
import operator
from dataclasses import dataclass, field
from typing import Any, Mapping

from course_lib.audit import AuditTrail
from course_lib.registry import CHAMPION, PREVIOUS, Decision, _client, model_version, promote

__all__ = ["STAGES", "TRANSITIONS", "STAGE_TAG", "Policy", "PolicyDecision", "gather_evidence", "check_policy",
           "governed_promote", "stage_of", "set_stage", "retire", "model_card", "log_model_card"]

STAGES = ("development", "staging", "production", "deprecated", "archived")
"""A version's lifecycle stages, in order."""
TRANSITIONS = {
    "development": {"staging", "archived"},
    "staging": {"production", "development", "archived"},
    "production": {"deprecated"},
    "deprecated": {"production", "archived"},
    "archived": set(),
}
"""Which stage may follow which: production is left only through deprecated; archived is final."""
STAGE_TAG = "lifecycle.stage"


@dataclass(frozen=True)
class Policy:
    """What a model version must show before it may take a serving alias.

    Attributes:
        name: the policy's name, recorded with every decision.
        required_tags: tags that must be set and non-empty (on the version or its run).
        min_metrics: ``{metric: floor}``; the run's metric must be >= floor (e.g. ``{"val_auc": 0.8}``).
        max_metrics: ``{metric: ceiling}``; the run's metric must be <= ceiling (fairness limits,
            e.g. ``{"eo_difference": 0.05}``).
        approval_required: the version needs the tag ``approved_by``.
        separate_approver: the approver must differ from the run's ``trained_by`` tag (four eyes).
        allowed_promoters: who may promote; empty means anyone (least privilege says: name them).

    Introduced in 10-governance.
    """

    name: str = "policy"
    required_tags: tuple[str, ...] = ()
    min_metrics: Mapping[str, float] = field(default_factory=dict)
    max_metrics: Mapping[str, float] = field(default_factory=dict)
    approval_required: bool = True
    separate_approver: bool = True
    allowed_promoters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.required_tags, str) or isinstance(self.allowed_promoters, str):
            raise ValueError("required_tags and allowed_promoters are tuples of names, not one string.")
        for label, limits in (("min_metrics", self.min_metrics), ("max_metrics", self.max_metrics)):
            if not isinstance(limits, Mapping):
                raise ValueError(f"{label} must be a dict {{metric: number}}, got {limits!r}.")
            for metric, value in limits.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"{label}[{metric!r}] must be a number, got {value!r}.")


@dataclass(frozen=True)
class PolicyDecision(Decision):
    """A policy's answer: ``approved``/``allowed`` and its ``reasons`` (the violations when refused).

    Introduced in 10-governance.
    """

    @property
    def allowed(self) -> bool:
        """Same as ``approved``."""
        return self.approved


def gather_evidence(name: str, version: str | int, *, client: Any = None) -> dict:
    """Collect what a policy looks at: the version's and its run's tags, and the run's metrics.

    Returns ``{"tags": {...}, "metrics": {...}, "run_id": ..., "version": "N"}``; version tags
    win over run tags of the same key; MLflow's own ``mlflow.*`` tags are left out.

    Introduced in 10-governance.
    """
    client = _client(client)
    mv = model_version(name, version, client=client)
    run = client.get_run(mv.run_id)
    tags = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}
    tags.update(mv.tags)
    return {"tags": tags, "metrics": dict(run.data.metrics), "run_id": mv.run_id, "version": str(mv.version)}


def check_policy(policy: Policy, *, name: str | None = None, version: str | int | None = None,
                 evidence: Mapping[str, Any] | None = None, actor: str | None = None,
                 client: Any = None) -> PolicyDecision:
    """Check a model version against ``policy``.

    Give either ``name`` and ``version`` (the evidence is read from the store with
    :func:`gather_evidence`) or ``evidence`` (``{"tags": {...}, "metrics": {...}}``).
    ``actor``, when given, must be one of the policy's ``allowed_promoters``.

    Returns:
        A :class:`PolicyDecision`; when refused, ``reasons`` lists every violation, e.g.
        ``"eo_difference 0.081 > 0.05 (maximum)"``; when allowed, the rules it satisfied.

    Introduced in 10-governance.
    """
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a course_lib.governance.Policy, not {type(policy).__name__}.")
    if evidence is None:
        if name is None or version is None:
            raise ValueError("Give name and version (read from the store) or evidence={'tags':..., 'metrics':...}.")
        evidence = gather_evidence(name, version, client=client)
    tags, metrics = dict(evidence.get("tags", {})), dict(evidence.get("metrics", {}))
    violations, satisfied = [], []
    if actor is not None and policy.allowed_promoters and actor not in policy.allowed_promoters:
        violations.append(f"{actor!r} may not promote (allowed: {list(policy.allowed_promoters)})")
    for tag in policy.required_tags:
        if str(tags.get(tag, "")).strip():
            satisfied.append(f"tag {tag!r} set")
        else:
            violations.append(f"missing required tag {tag!r}")
    limits = [(m, v, "minimum", "<", ">=", operator.lt) for m, v in policy.min_metrics.items()]
    limits += [(m, v, "maximum", ">", "<=", operator.gt) for m, v in policy.max_metrics.items()]
    for metric, limit, kind, breach, within, breached in limits:
        if metric not in metrics:
            violations.append(f"metric {metric!r} was not logged ({kind} {limit:g})")
        elif breached(metrics[metric], limit):
            violations.append(f"{metric} {metrics[metric]:.4g} {breach} {limit:g} ({kind})")
        else:
            satisfied.append(f"{metric} {metrics[metric]:.4g} {within} {limit:g}")
    if policy.approval_required:
        approver = str(tags.get("approved_by", "")).strip()
        if not approver:
            violations.append("no approval: the tag 'approved_by' is not set")
        elif policy.separate_approver and approver == str(tags.get("trained_by", "")).strip():
            violations.append(f"approved by its own author {approver!r} (four-eyes rule)")
        else:
            satisfied.append(f"approved by {approver}")
    if violations:
        return PolicyDecision(False, violations)
    return PolicyDecision(True, [f"policy {policy.name!r}: " + "; ".join(satisfied)])


def stage_of(name: str, version: str | int, *, client: Any = None) -> str:
    """Return a version's lifecycle stage (its ``lifecycle.stage`` tag; ``development`` if unset).

    Introduced in 10-governance.
    """
    return model_version(name, version, client=client).tags.get(STAGE_TAG, "development")


def set_stage(name: str, version: str | int, stage: str, *, audit: AuditTrail, actor: str, reason: str,
              client: Any = None) -> str:
    """Move a version to ``stage`` if :data:`TRANSITIONS` allows it; tag it and audit it.

    Returns the previous stage. Raises ValueError for an unknown stage, a forbidden
    transition, or archiving a version that still holds an alias.

    Introduced in 10-governance.
    """
    if stage not in STAGES:
        raise ValueError(f"Unknown stage {stage!r}; the stages are {list(STAGES)}.")
    client = _client(client)
    current = stage_of(name, version, client=client)
    if current == stage:
        return current
    if stage not in TRANSITIONS[current]:
        raise ValueError(f"Version {version} of {name!r} is {current!r}; it may move to {sorted(TRANSITIONS[current])}, "
                         f"not {stage!r}.")
    aliases = list(model_version(name, version, client=client).aliases or [])
    if stage == "archived" and aliases:
        raise ValueError(f"Version {version} still holds the aliases {aliases}: move or remove them before archiving.")
    client.set_model_version_tag(name, str(version), STAGE_TAG, stage)
    audit.append("stage-changed", actor=actor, model=name, version=version, reason=reason,
                 **{"from": current, "to": stage})
    return current


def governed_promote(name: str, version: str | int, policy: Policy, *, audit: AuditTrail, actor: str,
                     reason: str, alias: str = CHAMPION, client: Any = None) -> PolicyDecision:
    """Promote ``version`` to ``alias`` only if ``policy`` allows it, and audit the decision either way.

    On approval the alias moves (the old holder keeps ``previous-champion``, see
    :func:`course_lib.registry.promote`), the version's stage becomes ``production`` and the old
    holder's ``deprecated``; the trail gets a ``promoted`` entry (``alias``, ``alias_to``,
    ``previous``). On refusal nothing moves and the trail gets ``promotion-refused`` with the reasons.

    Introduced in 10-governance.
    """
    if not isinstance(audit, AuditTrail):
        raise TypeError("audit must be a course_lib.audit.AuditTrail: every promotion is recorded.")
    if not reason or not str(reason).strip() or not actor or not str(actor).strip():
        raise ValueError("Say who promotes and why: governed_promote(..., actor='...', reason='...').")
    from mlflow.exceptions import MlflowException

    client = _client(client)
    try:
        previous = str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        previous = None
    decision = check_policy(policy, name=name, version=version, actor=actor, client=client)
    promote(name, version, lambda candidate, champion: decision, alias=alias,
            previous_alias=PREVIOUS if alias == CHAMPION else f"previous-{alias}", client=client)
    if not decision.approved:
        audit.append("promotion-refused", actor=actor, model=name, version=version, reason=reason,
                     policy=policy.name, violations=list(decision.reasons))
        return decision
    audit.append("promoted", actor=actor, model=name, version=version, reason=reason, policy=policy.name,
                 checks=list(decision.reasons), alias=alias, alias_to=str(version), previous=previous)
    client.set_model_version_tag(name, str(version), STAGE_TAG, "production")
    if previous is not None and previous != str(version):
        client.set_model_version_tag(name, previous, STAGE_TAG, "deprecated")
        audit.append("stage-changed", actor=actor, model=name, version=previous,
                     reason=f"replaced by version {version}", **{"from": "production", "to": "deprecated"})
    return decision


def retire(name: str, version: str | int, *, audit: AuditTrail, actor: str, reason: str, client: Any = None) -> None:
    """Archive a version: remove its aliases, tag it ``archived``, audit it; never delete it.

    Raises ValueError if the version holds ``champion`` (promote another one first).

    Introduced in 10-governance.
    """
    client = _client(client)
    mv = model_version(name, version, client=client)
    aliases = list(mv.aliases or [])
    if CHAMPION in aliases:
        raise ValueError(f"Version {version} is the champion: promote a replacement before retiring it.")
    for alias in aliases:
        client.delete_registered_model_alias(name, alias)
        audit.append("alias-removed", actor=actor, model=name, version=version, reason=reason,
                     alias=alias, alias_to=None)
    client.set_model_version_tag(name, str(version), STAGE_TAG, "archived")
    audit.append("retired", actor=actor, model=name, version=version, reason=reason,
                 previous_stage=mv.tags.get(STAGE_TAG, "development"))


def _group_table(metrics: Mapping[str, float]) -> str:
    """Metrics named ``group/<attribute>/<group>/<metric>`` as a markdown table."""
    cells: dict[tuple[str, str], dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) == 4 and parts[0] == "group":
            cells.setdefault((parts[1], parts[2]), {})[parts[3]] = value
    if not cells:
        return "_No per-group metrics were logged._"
    names = sorted({m for row in cells.values() for m in row})
    lines = ["| attribute | group | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for (attribute, group), row in sorted(cells.items()):
        lines.append(f"| {attribute} | {group} | " + " | ".join(f"{row[m]:.3f}" if m in row else "–" for m in names) + " |")
    return "\n".join(lines)


def model_card(name: str, version: str | int, *, intended_use: str | None = None, limitations: str | None = None,
               ethical_considerations: str | None = None, client: Any = None) -> str:
    """Write a markdown model card for one version, from what the tracking store holds.

    Reads the version (description, tags, aliases), its run (params, metrics, tags, training
    datasets) and the governance tags. Metrics named ``group/<attribute>/<group>/<metric>``
    form the per-group table. Text sections not given fall back to the version tags
    ``intended_use``, ``limitations``, ``ethical_considerations``.

    Introduced in 10-governance.
    """
    client = _client(client)
    evidence = gather_evidence(name, version, client=client)
    mv = model_version(name, version, client=client)
    run = client.get_run(evidence["run_id"])
    tags, metrics = evidence["tags"], evidence["metrics"]

    def text(value: str | None, key: str) -> str:
        return (value or tags.get(key) or "_Not documented: ask the model's owner before using it._").strip()

    overall = {k: v for k, v in sorted(metrics.items()) if not k.startswith("group/")}
    datasets = [f"- `{d.dataset.name}` (digest `{d.dataset.digest}`, "
                f"{next((t.value for t in d.tags if t.key == 'mlflow.data.context'), 'unspecified')})"
                for d in run.inputs.dataset_inputs]
    lines = [
        f"# Model card: {name}, version {mv.version}", "",
        "## Model details", "",
        f"- version: {mv.version} (run `{mv.run_id}`, {run.info.run_name})",
        f"- trained by: {tags.get('trained_by', 'unknown')}; code version: {tags.get('code_version', 'unknown')}",
        f"- parameters: {dict(sorted(run.data.params.items()))}",
        f"- lifecycle stage: {tags.get(STAGE_TAG, 'development')}; aliases: {sorted(mv.aliases or []) or 'none'}",
        f"- description: {mv.description or 'none'}", "",
        "## Intended use", "", text(intended_use, "intended_use"), "",
        "## Training data", "", *(datasets or ["_No dataset was logged with the run._"]),
        f"- training window: {tags.get('train_months', 'not recorded')}", "",
        "## Metrics (overall)", "", "| metric | value |", "|---|---|",
        *[f"| {k} | {v:.4f} |" for k, v in overall.items()], "",
        "## Metrics per group", "", _group_table(metrics), "",
        "## Governance", "",
        f"- gate decision: {tags.get('gate.decision', 'not evaluated')}; reasons: {tags.get('gate.reasons', '-')}",
        f"- approved by: {tags.get('approved_by', 'nobody yet')}", "",
        "## Limitations", "", text(limitations, "limitations"), "",
        "## Ethical considerations", "", text(ethical_considerations, "ethical_considerations"), "",
    ]
    return "\n".join(lines)


def log_model_card(name: str, version: str | int, card: str | None = None, *, client: Any = None,
                   **sections: str | None) -> dict:
    """Log a model card as ``model_card.md`` on the run of the version it describes, and tag the version.

    ``card`` is the markdown (default: :func:`model_card` with ``sections``). The version gets the tag
    ``model_card_sha256``, so a card can be checked against the one logged.

    Returns:
        ``{"run_id", "artifact_uri", "sha256"}``.

    Introduced in 10-governance.
    """
    client = _client(client)
    card = card if card is not None else model_card(name, version, client=client, **sections)
    if not isinstance(card, str) or not card.strip():
        raise ValueError("The model card is empty.")
    run_id = model_version(name, version, client=client).run_id
    client.log_text(run_id, card, "model_card.md")
    digest = hashlib.sha256(card.encode("utf-8")).hexdigest()
    client.set_model_version_tag(name, str(version), "model_card_sha256", digest)
    artifact_uri = client.get_run(run_id).info.artifact_uri.rstrip("/") + "/model_card.md"
    return {"run_id": run_id, "artifact_uri": artifact_uri, "sha256": digest}
