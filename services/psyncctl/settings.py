"""Where psyncctl finds Kafka, PostgreSQL and the services: the services' own variables, unprefixed for
the shared infrastructure (`KAFKA_BOOTSTRAP`, `DATABASE_URL`, `PSYNC_TOPIC_PREFIX`) and `PSYNCCTL_*` for
the rest. Topic and group names are the logical ones; psyncctl finds them in the deployment's namespace."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from service_runtime.settings import KafkaSettings


class CtlSettings(KafkaSettings):
    """Infrastructure addresses (the cluster and topic namespace as the services have them), the services'
    schemas and consumer groups, and the auditlog's URL."""

    model_config = SettingsConfigDict(
        env_prefix="PSYNCCTL_", extra="ignore", frozen=True, populate_by_name=True
    )

    database_url: SecretStr = Field(
        default=SecretStr("postgresql://psync:psync@127.0.0.1:55432/psync"), validation_alias="DATABASE_URL"
    )
    db_schema: str = Field(default="psyncctl", description="psyncctl's own schema (what it re-drove).")
    connector_schema: str = "connector"
    pusher_schema: str = "pusher"
    auditlog_schema: str = "auditlog"
    pipedrive_client_schema: str = Field(
        default="pipedrive_client",
        validation_alias=AliasChoices("PSYNCCTL_PIPEDRIVE_CLIENT_SCHEMA", "PIPEDRIVE_CLIENT_SCHEMA"),
        description="The Pipedrive client's schema (credentials, budget), as the services name it.",
    )
    tenant_auth_schema: str = "tenant_auth"
    groups: dict[str, str] = Field(
        default={"mapper": "psync-mapper", "pusher": "psync-pusher", "auditlog": "psync-auditlog"},
        description="The consumer group of each consuming service (JSON), as their *_GROUP_ID say.",
    )
    auditlog_url: str = Field(default="http://127.0.0.1:8084", description="The auditlog's HTTP API.")
