"""Infrastructure as code for a model server: a spec rendered into Kubernetes manifests, checked and planned.

The serving stack is described once, declaratively, as a dict::

    spec = {"name": "churn-model", "image": "churn-model:3", "replicas": 2, "port": 8080,
            "health_path": "/ping", "resources": {"requests": {"cpu": "250m", "memory": "512Mi"},
                                                  "limits": {"cpu": "1", "memory": "1Gi"}},
            "autoscaling": {"min_replicas": 2, "max_replicas": 6, "target_cpu_utilization": 70}}

and everything else is generated from it: :func:`render_manifests` writes the
Deployment, Service and HorizontalPodAutoscaler, :func:`validate_manifests` checks
them against the Kubernetes API schemas offline (kubernetes-validate), :func:`flatten`
turns them into ``{resource: {field: value}}`` for a plan, and :func:`load_state` /
:func:`save_state` keep what is "deployed" in a JSON file that stands in for a cluster.
:func:`generate_dockerfile` asks MLflow for the container image's Dockerfile.

Introduced in 06-cicd.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["REQUIRED_SPEC_KEYS", "check_spec", "default_container", "render_manifests", "validate_manifests",
           "to_yaml", "flatten", "load_state", "save_state", "generate_dockerfile", "deploy_commands"]

REQUIRED_SPEC_KEYS = ("name", "image", "replicas", "port", "health_path", "resources", "autoscaling")


def check_spec(spec: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming what is missing or wrong in a serving spec.

    Introduced in 06-cicd.
    """
    missing = [k for k in REQUIRED_SPEC_KEYS if k not in spec]
    if missing:
        raise ValueError(f"The spec lacks {missing}; a serving spec needs {list(REQUIRED_SPEC_KEYS)}.")
    if not isinstance(spec["replicas"], int) or spec["replicas"] < 1:
        raise ValueError(f"replicas must be a positive integer, got {spec['replicas']!r}.")
    if not str(spec["health_path"]).startswith("/"):
        raise ValueError(f"health_path must be a path such as '/ping', got {spec['health_path']!r}.")
    for part in ("requests", "limits"):
        if not {"cpu", "memory"} <= set(spec["resources"].get(part, {})):
            raise ValueError(f"resources.{part} needs both cpu and memory, got {spec['resources'].get(part)!r}.")
    scaling = spec["autoscaling"]
    if not {"min_replicas", "max_replicas", "target_cpu_utilization"} <= set(scaling):
        raise ValueError("autoscaling needs min_replicas, max_replicas and target_cpu_utilization.")
    if scaling["min_replicas"] > scaling["max_replicas"]:
        raise ValueError(f"autoscaling.min_replicas {scaling['min_replicas']} exceeds max_replicas {scaling['max_replicas']}.")


def default_container(spec: Mapping[str, Any]) -> dict:
    """The model server's container: image, port, resources, and readiness/liveness probes on the health route.

    Introduced in 06-cicd.
    """
    probe = {"httpGet": {"path": spec["health_path"], "port": spec["port"]}}
    return {
        "name": spec["name"],
        "image": spec["image"],
        "ports": [{"containerPort": spec["port"], "name": "http"}],
        "resources": json.loads(json.dumps(spec["resources"])),
        "readinessProbe": {**probe, "initialDelaySeconds": 5, "periodSeconds": 5},
        "livenessProbe": {**probe, "initialDelaySeconds": 30, "periodSeconds": 10, "failureThreshold": 3},
    }


def render_manifests(spec: Mapping[str, Any], container: Mapping[str, Any] | None = None) -> list[dict]:
    """Render a serving spec into a Deployment, a Service and a HorizontalPodAutoscaler.

    Args:
        spec: the serving spec (see the module docstring; checked by :func:`check_spec`).
        container: the pod's container; :func:`default_container` when omitted.

    Introduced in 06-cicd.
    """
    check_spec(spec)
    name, labels = spec["name"], {"app": spec["name"]}
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": spec["replicas"],
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [dict(container or default_container(spec))]}},
        },
    }
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
        "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": spec["port"], "protocol": "TCP"}]},
    }
    scaling = spec["autoscaling"]
    hpa = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": scaling["min_replicas"], "maxReplicas": scaling["max_replicas"],
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": scaling["target_cpu_utilization"]}}}],
        },
    }
    return [deployment, service, hpa]


def validate_manifests(manifests: Sequence[Mapping[str, Any]], version: str = "1.30", *, strict: bool = True) -> list[str]:
    """Validate manifests against the Kubernetes API schemas, offline; return the problems (empty when valid).

    ``strict`` also rejects fields the schema does not know (a typo such as ``readinesProbe``).

    Introduced in 06-cicd.
    """
    import kubernetes_validate
    from kubernetes_validate.utils import all_versions

    known = all_versions()
    if not any(v == version or v.startswith(f"{version}.") for v in known):
        raise ValueError(f"Unknown Kubernetes version {version!r}; kubernetes-validate knows {known[0]} to {known[-1]}.")
    problems = []
    for manifest in manifests:
        label = f"{manifest.get('kind', '?')}/{manifest.get('metadata', {}).get('name', '?')}"
        try:
            kubernetes_validate.validate(dict(manifest), version, strict=strict)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path) or "(top level)"
            problems.append(f"{label}: {path}: {error.message}")
        except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as error:
            problems.append(f"{label}: {error}")
    return problems


def to_yaml(manifests: Sequence[Mapping[str, Any]]) -> str:
    """The manifests as one multi-document YAML text (what ``kubectl apply -f`` reads).

    Introduced in 06-cicd.
    """
    import yaml

    plain = json.loads(json.dumps(list(manifests)))  # copies, so shared dicts do not become YAML anchors
    return "---\n".join(yaml.safe_dump(m, sort_keys=False) for m in plain)


def flatten(manifests: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{"Kind/name": {"dotted.field.path": value}}`` for the manifests; list items are indexed (``containers.0.image``).

    Introduced in 06-cicd.
    """
    def walk(value: Any, prefix: str, out: dict) -> None:
        if isinstance(value, Mapping) and value:
            for key, item in value.items():
                walk(item, f"{prefix}.{key}" if prefix else str(key), out)
        elif isinstance(value, list) and value:
            for i, item in enumerate(value):
                walk(item, f"{prefix}.{i}", out)
        else:
            out[prefix] = value

    flat = {}
    for manifest in manifests:
        key = f"{manifest['kind']}/{manifest['metadata']['name']}"
        fields: dict[str, Any] = {}
        walk({k: v for k, v in manifest.items() if k not in ("kind",)}, "", fields)
        flat[key] = fields
    return flat


def load_state(path: str | Path) -> list[dict]:
    """The manifests "deployed" (saved in the JSON state file); an empty list before the first apply.

    Introduced in 06-cicd.
    """
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else []


def save_state(path: str | Path, manifests: Sequence[Mapping[str, Any]]) -> Path:
    """Record ``manifests`` as what is deployed (replacing the state file atomically).

    Introduced in 06-cicd.
    """
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(list(manifests), indent=2, sort_keys=True))
    tmp.replace(path)
    return path


def generate_dockerfile(model_uri: str, out_dir: str | Path) -> Path:
    """Write MLflow's Dockerfile for serving ``model_uri`` (and the model beside it) into ``out_dir``.

    The same as ``mlflow models generate-dockerfile -m MODEL_URI -d OUT_DIR``, run in
    this process (no Docker engine needed, nothing downloaded) and quietly. The image
    it describes serves the model on port 8080 with ``/ping`` and ``/invocations``.

    Introduced in 06-cicd.
    """
    from mlflow.models.flavor_backend_registry import get_flavor_backend

    out_dir = Path(out_dir)
    previous = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            backend = get_flavor_backend(model_uri, docker_build=True, env_manager="local")
            backend.generate_dockerfile(model_uri, str(out_dir), mlflow_home=None, install_java=False,
                                        install_mlflow=False)
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = previous
    return out_dir / "Dockerfile"


def deploy_commands(spec: Mapping[str, Any], *, build_dir: str = "docker", manifests: str = "k8s.yaml") -> list[str]:
    """The shell commands that build, try, deploy and roll out the spec on a machine with Docker and a cluster.

    Introduced in 06-cicd.
    """
    check_spec(spec)
    name, image, port = spec["name"], spec["image"], spec["port"]
    return [
        f"docker build -t {image} {build_dir}",
        f"docker run --rm -p {port}:8080 {image}",
        f"curl -s localhost:{port}{spec['health_path']}",
        f"kubectl apply --dry-run=server -f {manifests}",
        f"kubectl diff -f {manifests}",
        f"kubectl apply -f {manifests}",
        f"kubectl rollout status deployment/{name} --timeout=120s",
        f"kubectl get pods -l app={name}",
        f"kubectl rollout undo deployment/{name}",
    ]
