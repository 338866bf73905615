"""deploy/compose.yaml: valid against the Compose Specification's schema (vendored, tests/deploy/schemas/
compose-spec.json from compose-spec/compose-spec), and every container's environment accepted by the
settings of the process it runs: what `docker compose up` would fail on, checked without a Docker engine."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pipedrive_client.settings import PipedriveClientSettings
from tests.deploy.service_env import SETTINGS_OF, load_settings, unknown_variables

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy/compose.yaml"
SCHEMA = Path(__file__).parent / "schemas/compose-spec.json"


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z_]+)(?P<rule>:\?|:-)(?P<text>[^}]*)\}")
OPERATOR_ENV = {"PSYNC_CREDENTIALS_KEY": "ab" * 32, "CONSOLE_SERVICE_KEYS_KEY": "cd" * 32}
"""What the person running `docker compose up` exports (the keys the file requires)."""


def _interpolated(value: str, env: dict[str, str]) -> str:
    """A value as compose interpolates it: `${NAME:?message}` is required, `${NAME:-default}` is not."""

    def substitute(found: re.Match[str]) -> str:
        if env.get(found["name"]):
            return env[found["name"]]
        if found["rule"] == ":?":
            raise KeyError(f"{found['name']}: {found['text']}")
        return found["text"]

    return INTERPOLATION.sub(substitute, value)


def _python_services(env: dict[str, str] = OPERATOR_ENV) -> dict[str, tuple[str, dict[str, str]]]:
    """Compose service name -> (the package its image runs, its environment)."""
    found = {}
    for name, service in _compose()["services"].items():
        package = (service.get("build") or {}).get("args", {}).get("SERVICE")
        if package and "entrypoint" not in service:
            variables = (service.get("environment") or {}).items()
            found[name] = (package, {k: _interpolated(str(v), env) for k, v in variables})
    return found


def test_the_compose_file_follows_the_compose_specification() -> None:
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(_compose())


def test_every_service_image_runs_a_package_of_the_project() -> None:
    assert {package for package, _ in _python_services().values()} == set(SETTINGS_OF)
    dockerfile = _compose()["x-service-build"]["dockerfile"]
    assert (ROOT / dockerfile).is_file()


@pytest.mark.parametrize("name", sorted(_python_services()))
def test_each_service_accepts_its_compose_environment(name: str) -> None:
    package, env = _python_services()[name]

    assert unknown_variables(package, env) == set()
    settings = load_settings(package, env)  # raises what the container would die of

    assert settings
    if package in ("connector", "pusher"):
        client = next(s for s in settings if isinstance(s, PipedriveClientSettings))
        assert client.current_credentials_key.get_secret_value() == env["PSYNC_CREDENTIALS_KEY"]


def test_dependencies_and_ports_are_consistent() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in services, f"{name} depends on unknown {dependency}"
    host_ports = [p.rsplit(":", 1)[0] for s in services.values() for p in s.get("ports", [])]
    assert len(host_ports) == len(set(host_ports))
    for name, (package, env) in _python_services().items():
        if package != "pipedrive_sandbox":
            port = env[f"{package.upper()}_HTTP_PORT"]
            assert f"127.0.0.1:{port}:{port}" in services[name]["ports"]


def test_topics_are_created_before_any_service_starts() -> None:
    services = _compose()["services"]
    assert services["create-topics"]["entrypoint"] == ["python", "deploy/local/create_topics.py"]
    for name, (package, _) in _python_services().items():
        if package not in ("console", "pipedrive_sandbox"):
            assert services[name]["depends_on"]["create-topics"] == {
                "condition": "service_completed_successfully"
            }


def test_a_malformed_credentials_key_is_what_the_check_catches() -> None:
    _, env = _python_services()["connector"]
    with pytest.raises(ValueError, match="PSYNC_CREDENTIALS_KEY"):
        load_settings("connector", {**env, "PSYNC_CREDENTIALS_KEY": "not-hex"})


@pytest.mark.parametrize("key", sorted(OPERATOR_ENV))
def test_compose_refuses_to_start_without_the_operators_own_keys(key: str) -> None:
    with pytest.raises(KeyError, match=key):
        _python_services({k: v for k, v in OPERATOR_ENV.items() if k != key})
