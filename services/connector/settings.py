"""The connector's settings, from `CONNECTOR_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from service_runtime.settings import ServiceSettings


class ConnectorSettings(ServiceSettings):
    """Settings of the connector service."""

    model_config = SettingsConfigDict(env_prefix="CONNECTOR_", extra="ignore", frozen=True)

    http_port: int = 8081
    db_schema: str = "connector"
