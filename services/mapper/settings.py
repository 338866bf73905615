"""The mapper's settings, from `MAPPER_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from service_runtime.settings import ServiceSettings


class MapperSettings(ServiceSettings):
    """Settings of the mapper service."""

    model_config = SettingsConfigDict(env_prefix="MAPPER_", extra="ignore", frozen=True)

    http_port: int = 8082
    group_id: str = "psync-mapper"
    db_schema: str = "mapper"
    session_timeout_s: float = Field(
        default=60.0,
        ge=6.0,
        description="Kafka group session: how long a crashed replica keeps its partitions.",
    )
    transport: Literal["faust", "aiokafka"] = Field(
        default="faust",
        description="How the mapper consumes: a faust-streaming app (default), or the aiokafka runner, which"
        " costs far less per message (see README, Operations: mapper throughput).",
    )
    max_batch: int = Field(
        default=2000, ge=1, le=10_000, description="At most this many changes applied per transaction."
    )
