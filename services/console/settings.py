"""The console's settings, from `CONSOLE_*`. The console has no state and no database."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    """Where the console listens and where the services it shows are."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", frozen=True)

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool | None = None
    connector_url: str = "http://127.0.0.1:8081"
    mapper_url: str = "http://127.0.0.1:8082"
    pusher_url: str = "http://127.0.0.1:8083"
    auditlog_url: str = "http://127.0.0.1:8084"

    def service_urls(self) -> dict[str, str]:
        """The base URL of every service the console talks to, by name."""
        return {
            "connector": self.connector_url,
            "mapper": self.mapper_url,
            "pusher": self.pusher_url,
            "auditlog": self.auditlog_url,
        }
