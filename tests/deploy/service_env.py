"""What a deploy file gives a service process: is every variable one of its settings, and do its settings
accept the values (the way a container would fail at start, without a container)?"""

from __future__ import annotations

import os
from collections.abc import Mapping

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from auditlog.settings import AuditlogSettings
from connector.settings import ConnectorSettings
from console.settings import ConsoleSettings
from mapper.settings import MapperSettings
from pipedrive_client.settings import PipedriveClientSettings
from pipedrive_sandbox.settings import SandboxSettings
from pusher.settings import PusherSettings

SETTINGS_OF: dict[str, tuple[type[BaseSettings], ...]] = {
    "connector": (ConnectorSettings, PipedriveClientSettings),
    "mapper": (MapperSettings,),
    "pusher": (PusherSettings, PipedriveClientSettings),
    "auditlog": (AuditlogSettings,),
    "console": (ConsoleSettings,),
    "pipedrive_sandbox": (SandboxSettings,),
}
IMAGE_VARIABLES = frozenset({"APP_DATADIR", "PSYNC_SERVICE", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"})


def variable_names(settings: type[BaseSettings]) -> set[str]:
    """The environment variables a settings class reads."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names |= {str(choice).upper() for choice in alias.choices}
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def unknown_variables(service: str, env: Mapping[str, str]) -> set[str]:
    """Variables set for the service that none of its settings reads (a typo, or a removed setting)."""
    known = set().union(*(variable_names(s) for s in SETTINGS_OF[service])) | IMAGE_VARIABLES
    return set(env) - known


def load_settings(service: str, env: Mapping[str, str]) -> list[BaseSettings]:
    """The service's settings built from exactly `env` (the test's own environment hidden), as its
    process builds them at start; raises the validation error a container would die of."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        return [settings() for settings in SETTINGS_OF[service]]
