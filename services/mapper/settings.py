"""The mapper's settings, from `MAPPER_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from service_runtime.settings import StreamServiceSettings


class MapperSettings(StreamServiceSettings):
    """Settings of the mapper service."""

    model_config = SettingsConfigDict(env_prefix="MAPPER_", extra="ignore", frozen=True)

    http_port: int = 8082
    group_id: str = "psync-mapper"
    db_schema: str = "mapper"
