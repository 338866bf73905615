"""The pusher's settings, from `PUSHER_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from service_runtime.settings import ServiceSettings


class PusherSettings(ServiceSettings):
    """Settings of the pusher service."""

    model_config = SettingsConfigDict(env_prefix="PUSHER_", extra="ignore", frozen=True)

    http_port: int = 8083
    group_id: str = "psync-pusher"
    db_schema: str = "pusher"
