"""The auditlog's settings, from `AUDITLOG_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from service_runtime.settings import ServiceSettings


class AuditlogSettings(ServiceSettings):
    """Settings of the auditlog service."""

    model_config = SettingsConfigDict(env_prefix="AUDITLOG_", extra="ignore", frozen=True)

    http_port: int = 8084
    group_id: str = "psync-auditlog"
    db_schema: str = "auditlog"
    transport: Literal["faust", "aiokafka"] = Field(
        default="faust",
        description="How the auditlog consumes: a faust-streaming app (default), or the aiokafka runner,"
        " which costs far less per message.",
    )
    max_batch: int = Field(
        default=2000,
        ge=1,
        le=10_000,
        description="At most this many consecutive record results written per transaction.",
    )
