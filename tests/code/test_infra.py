"""course_lib.infra: spec → manifests, schema validation, flatten, state."""

import copy

import pytest

from course_lib import infra

SPEC = {"name": "churn-model", "image": "churn-model:3", "replicas": 2, "port": 8080, "health_path": "/ping",
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "autoscaling": {"min_replicas": 2, "max_replicas": 6, "target_cpu_utilization": 70}}


def test_render_manifests_gives_valid_deployment_service_and_hpa():
    manifests = infra.render_manifests(SPEC)
    assert [m["kind"] for m in manifests] == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    container = manifests[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ping", "port": 8080}
    assert container["resources"] == SPEC["resources"]
    assert manifests[2]["spec"]["maxReplicas"] == 6
    assert infra.validate_manifests(manifests, "1.30") == []


def test_validate_manifests_reports_unknown_fields_and_versions():
    container = infra.default_container(SPEC)
    container["readinesProbe"] = container.pop("readinessProbe")
    problems = infra.validate_manifests(infra.render_manifests(SPEC, container), "1.30")
    assert len(problems) == 1 and "readinesProbe" in problems[0] and problems[0].startswith("Deployment/churn-model")
    with pytest.raises(ValueError, match="Unknown Kubernetes version"):
        infra.validate_manifests([], "1.99")


def test_check_spec_explains_bad_specs():
    with pytest.raises(ValueError, match="lacks"):
        infra.check_spec({"name": "x"})
    for change, message in [({"replicas": 0}, "replicas"), ({"health_path": "ping"}, "health_path"),
                            ({"autoscaling": {"min_replicas": 5, "max_replicas": 2, "target_cpu_utilization": 50}}, "exceeds")]:
        with pytest.raises(ValueError, match=message):
            infra.check_spec({**SPEC, **change})
    broken = copy.deepcopy(SPEC)
    del broken["resources"]["limits"]["cpu"]
    with pytest.raises(ValueError, match="limits"):
        infra.check_spec(broken)


def test_flatten_state_roundtrip_and_yaml(tmp_path):
    manifests = infra.render_manifests(SPEC)
    flat = infra.flatten(manifests)
    assert set(flat) == {"Deployment/churn-model", "Service/churn-model", "HorizontalPodAutoscaler/churn-model"}
    assert flat["Deployment/churn-model"]["spec.template.spec.containers.0.image"] == "churn-model:3"
    state = tmp_path / "state.json"
    assert infra.load_state(state) == []
    infra.save_state(state, manifests)
    assert infra.load_state(state) == manifests
    text = infra.to_yaml(manifests)
    assert text.count("---") == 2 and "&id" not in text and "kind: HorizontalPodAutoscaler" in text


def test_deploy_commands_use_the_spec():
    commands = infra.deploy_commands(SPEC, build_dir="b", manifests="k.yaml")
    assert commands[0] == "docker build -t churn-model:3 b"
    assert "kubectl rollout status deployment/churn-model --timeout=120s" in commands
