"""The auditlog's settings, from `AUDITLOG_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from service_runtime.settings import StreamServiceSettings


class AuditlogSettings(StreamServiceSettings):
    """Settings of the auditlog service."""

    model_config = SettingsConfigDict(env_prefix="AUDITLOG_", extra="ignore", frozen=True)

    http_port: int = 8084
    group_id: str = "psync-auditlog"
    db_schema: str = "auditlog"
