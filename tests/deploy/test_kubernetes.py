"""deploy/k8s: the kustomize base and its local and production overlays render (`kubectl kustomize`),
every object validates against the Kubernetes OpenAPI schemas (kubernetes-validate, offline), and the
overlays keep their promises: production has no sandbox default, requires its site values, scales mapper
and pusher on lag up to the partition count, and every Deployment has requests, a spread and a PDB."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from auditlog.settings import AuditlogSettings
from mapper.settings import MapperSettings
from pusher.settings import PusherSettings
from schemas.topics import KEYED_PARTITIONS
from tests.deploy.service_env import load_settings, unknown_variables

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy/k8s"
KUBERNETES_VERSION = "1.32.0"
FAKE_SECRETS = {
    "DATABASE_URL": "postgresql://psync:secret@postgres:5432/psync",
    "PSYNC_CREDENTIALS_KEY": "ab" * 32,
    "PSYNC_CREDENTIALS_OLD_KEYS": "",
    "PIPEDRIVE_OAUTH_CLIENT_SECRET": "secret",
    "CONSOLE_SERVICE_KEYS_KEY": "cd" * 32,
}
SANDBOX_MARKS = ("pipedrive-sandbox", "127.0.0.1", ":8765")


def _render(overlay: Path) -> list[dict[str, Any]]:
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl (with its kustomize) is needed to render deploy/k8s", pytrace=False)
    built = subprocess.run(
        ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    return [d for d in yaml.safe_load_all(built.stdout) if d]


@pytest.fixture(scope="module")
def local() -> list[dict[str, Any]]:
    """The local overlay, rendered."""
    return _render(K8S / "overlays/local")


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The production overlay rendered with the example site values (a copy of deploy/k8s)."""
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copy)
    shutil.copy(copy / "overlays/production/site.env.example", copy / "overlays/production/site.env")
    return _render(copy / "overlays/production")


def _of_kind(documents: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == kind}


def _container_env(deployment: dict[str, Any], documents: list[dict[str, Any]]) -> dict[str, str]:
    """The container's environment with ConfigMap references resolved and Secrets faked."""
    config_maps = _of_kind(documents, "ConfigMap")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for variable in container.get("env", []):
        source = variable.get("valueFrom", {})
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            assert ref["name"] in config_maps, f"no ConfigMap {ref['name']}"
            assert ref["key"] in config_maps[ref["name"]]["data"], f"{ref['name']} has no {ref['key']}"
            env[variable["name"]] = config_maps[ref["name"]]["data"][ref["key"]]
        else:
            env[variable["name"]] = FAKE_SECRETS[source["secretKeyRef"]["key"]]
    return env


def _package(deployment: dict[str, Any]) -> str:
    return str(deployment["metadata"]["name"]).replace("pipedrive-sandbox", "pipedrive_sandbox")


def _kubernetes_objects(documents: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (d for d in documents if not d["apiVersion"].startswith("keda.sh/"))


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_every_object_is_valid_kubernetes(overlay: str, request: pytest.FixtureRequest) -> None:
    for document in _kubernetes_objects(request.getfixturevalue(overlay)):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_every_service_accepts_its_environment(overlay: str, request: pytest.FixtureRequest) -> None:
    documents = request.getfixturevalue(overlay)
    for name, deployment in _of_kind(documents, "Deployment").items():
        env = _container_env(deployment, documents)
        assert unknown_variables(_package(deployment), env) == set(), name
        assert load_settings(_package(deployment), env), name


def test_production_has_no_sandbox_default_anywhere(production: list[dict[str, Any]]) -> None:
    rendered = yaml.safe_dump_all(production)
    assert [mark for mark in SANDBOX_MARKS if mark in rendered] == []
    site = _of_kind(production, "ConfigMap")
    [pipedrive] = [cm["data"] for name, cm in site.items() if name.startswith("psync-pipedrive")]
    assert pipedrive["PIPEDRIVE_ALLOWED_TEST_URLS"] == ""
    assert pipedrive["CONNECTOR_DEFAULT_API_BASE_URL"].startswith("https://")
    assert pipedrive["PIPEDRIVE_OAUTH_BASE_URL"].startswith("https://")
    assert pipedrive["CONNECTOR_PUBLIC_BASE_URL"].startswith("https://")


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_no_alert_webhook_may_reach_a_private_address(overlay: str, request: pytest.FixtureRequest) -> None:
    """The auditlog's default lets a local receiver take webhooks over plain http at 127.0.0.1; in a pod
    that is the pod itself, so a tenant could make the auditlog post to its own loopback."""
    documents = request.getfixturevalue(overlay)
    env = _container_env(_of_kind(documents, "Deployment")["auditlog"], documents)
    assert env["AUDITLOG_ALERT_WEBHOOK_HTTP_HOSTS"] == ""
    hosts = [s.webhook_http_hosts for s in load_settings("auditlog", env) if isinstance(s, AuditlogSettings)]
    assert hosts == [frozenset()]


def test_production_does_not_render_without_its_site_values(tmp_path: Path) -> None:
    shutil.copytree(K8S, tmp_path / "k8s")
    (tmp_path / "k8s/overlays/production/site.env").unlink(missing_ok=True)

    built = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path / "k8s/overlays/production")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert built.returncode != 0 and "site.env" in built.stderr


def test_pipedrive_settings_are_required_keys_not_defaults(production: list[dict[str, Any]]) -> None:
    for name in ("connector", "pusher"):
        [container] = _of_kind(production, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
        refs = [
            v["valueFrom"]["configMapKeyRef"]
            for v in container["env"]
            if "configMapKeyRef" in v.get("valueFrom", {})
        ]
        pipedrive = [r for r in refs if r["name"].startswith("psync-pipedrive")]
        assert pipedrive and all(r["optional"] is False for r in pipedrive)
        assert {"PIPEDRIVE_ALLOWED_TEST_URLS", "PIPEDRIVE_OAUTH_BASE_URL"} <= {r["key"] for r in pipedrive}


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_every_deployment_has_requests_a_spread_and_a_disruption_budget(
    overlay: str, request: pytest.FixtureRequest
) -> None:
    documents = request.getfixturevalue(overlay)
    budgets = _of_kind(documents, "PodDisruptionBudget")
    for name, deployment in _of_kind(documents, "Deployment").items():
        if name == "pipedrive-sandbox":
            continue
        spec = deployment["spec"]["template"]["spec"]
        [container] = spec["containers"]
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
        assert {c["topologyKey"] for c in spec["topologySpreadConstraints"]} == {
            "topology.kubernetes.io/zone",
            "kubernetes.io/hostname",
        }, name
        assert (
            budgets[name]["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        )


def test_production_scales_mapper_and_pusher_on_lag_up_to_the_partition_count(
    production: list[dict[str, Any]],
) -> None:
    scaled = _of_kind(production, "ScaledObject")
    deployments = _of_kind(production, "Deployment")
    groups = {"mapper": MapperSettings().group_id, "pusher": PusherSettings().group_id}
    assert set(scaled) == set(groups)
    for name, scaler in scaled.items():
        spec = scaler["spec"]
        assert spec["scaleTargetRef"]["name"] in deployments
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] == KEYED_PARTITIONS
        [trigger] = spec["triggers"]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == groups[name]
        assert trigger["metadata"]["allowIdleConsumers"] == "false"
        assert int(trigger["metadata"]["lagThreshold"]) > 0
        env_names = {v["name"] for v in deployments[name]["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert trigger["metadata"]["bootstrapServersFromEnv"] in env_names


def test_production_keeps_two_replicas_of_what_serves_people(production: list[dict[str, Any]]) -> None:
    deployments = _of_kind(production, "Deployment")
    assert {n: deployments[n]["spec"]["replicas"] for n in ("connector", "auditlog", "console")} == {
        "connector": 2,
        "auditlog": 2,
        "console": 2,
    }
    assert all(b["spec"]["minAvailable"] == 1 for b in _of_kind(production, "PodDisruptionBudget").values())


def test_local_runs_the_sandbox_and_points_pipedrive_at_it(local: list[dict[str, Any]]) -> None:
    assert "pipedrive-sandbox" in _of_kind(local, "Deployment")
    connector = _container_env(_of_kind(local, "Deployment")["connector"], local)
    assert connector["CONNECTOR_DEFAULT_API_BASE_URL"] == "http://pipedrive-sandbox:8765"
    assert connector["PIPEDRIVE_ALLOWED_TEST_URLS"] == "http://pipedrive-sandbox:8765"
