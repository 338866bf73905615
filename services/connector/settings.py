"""The connector's settings, from `CONNECTOR_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from pipedrive_client.crypto import CREDENTIALS_KEY_ENV, LOCAL_DEV_CREDENTIALS_KEY
from service_runtime.settings import ServiceSettings

SANDBOX_URL = "http://127.0.0.1:8765"


class ConnectorSettings(ServiceSettings):
    """Settings of the connector service."""

    model_config = SettingsConfigDict(env_prefix="CONNECTOR_", extra="ignore", frozen=True)

    http_port: int = 8081
    db_schema: str = "connector"
    pipedrive_client_schema: str = "pipedrive_client"
    credentials_key: SecretStr = Field(
        default=SecretStr(LOCAL_DEV_CREDENTIALS_KEY),
        validation_alias=CREDENTIALS_KEY_ENV,
        description="AES-256 key (64 hex characters) for stored Pipedrive credentials.",
    )
    oauth_client_id: str = ""
    oauth_client_secret: SecretStr = SecretStr("")
    oauth_redirect_uri: str = "http://127.0.0.1:8080/pipedrive/callback"
    oauth_base_url: str = Field(
        default=SANDBOX_URL, description="Pipedrive's OAuth server (sandbox locally)."
    )
    sandbox_base_urls: tuple[str, ...] = (SANDBOX_URL,)
    default_api_base_url: str = Field(
        default=SANDBOX_URL,
        description="Base URL for API-token connections (https://api.pipedrive.com live).",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8081", description="Where Pipedrive reaches our webhook receiver."
    )
    page_size: int = Field(default=500, ge=1, le=500)
    overlap_seconds: int = Field(default=120, ge=0, description="Incremental reads re-read this far back.")
    budget_share: float = Field(default=0.5, gt=0, le=1, description="Share of the daily token budget.")
    scheduler_interval_s: float = Field(default=5.0, gt=0)
    schedule_jitter_s: float = Field(default=300.0, ge=0, description="Spreads scheduled runs of tenants.")
    reconcile_every_s: float = Field(default=86_400.0, gt=0, description="How often ids are reconciled.")

    @field_validator("credentials_key")
    @classmethod
    def _is_32_hex_bytes(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        try:
            key = bytes.fromhex(raw)
        except ValueError as failure:
            raise ValueError("PSYNC_CREDENTIALS_KEY must be 64 hex characters") from failure
        if len(key) != 32:
            raise ValueError("PSYNC_CREDENTIALS_KEY must be 32 bytes (64 hex characters)")
        return value
