"""The connector's settings, from `CONNECTOR_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from pipedrive_client.settings import LOCAL_SANDBOX_URL, PipedriveClientSettings
from service_runtime.settings import ServiceSettings

OAUTH_CALLBACK_PATH = "/v1/connection/oauth/callback"


class ConnectorSettings(ServiceSettings):
    """Settings of the connector service."""

    model_config = SettingsConfigDict(env_prefix="CONNECTOR_", extra="ignore", frozen=True)

    http_port: int = 8081
    db_schema: str = "connector"
    pipedrive: PipedriveClientSettings = Field(
        default_factory=PipedriveClientSettings,
        description="The shared Pipedrive client's settings (PIPEDRIVE_*, PSYNC_CREDENTIALS_KEY).",
    )
    default_api_base_url: str = Field(
        default=LOCAL_SANDBOX_URL,
        description="Base URL for API-token connections (https://api.pipedrive.com live).",
    )
    mapper_url: str = Field(
        default="http://127.0.0.1:8082",
        description="The mapper's API: import previews ask it, by a dry run, what an import would do.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8081",
        description="Where Pipedrive and browsers reach the connector: the webhook receiver and, unless"
        " PIPEDRIVE_OAUTH_REDIRECT_URI says otherwise, the OAuth callback.",
    )
    oauth_return_urls: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("http://127.0.0.1:8080",),
        description="Comma-separated origins (scheme://host:port) an OAuth flow may send the browser back"
        " to at its end (the console's).",
    )
    page_size: int = Field(default=500, ge=1, le=500)
    overlap_seconds: int = Field(default=120, ge=0, description="Incremental reads re-read this far back.")
    scheduler_interval_s: float = Field(default=5.0, gt=0)
    schedule_jitter_s: float = Field(default=300.0, ge=0, description="Spreads scheduled runs of tenants.")
    catalog_max_age_s: float = Field(
        default=86_400.0, gt=0, description="A stored catalog older than this is read again when used."
    )
    catalog_missing_refresh_s: float = Field(
        default=60.0,
        ge=0,
        description="A catalog missing a field or stage asked for is read again, at most this often.",
    )
    webhooks_scan_every_s: float = Field(
        default=86_400.0,
        gt=0,
        description="With webhooks on, how often a scheduled sync still asks /v1/recents for what a lost"
        " delivery missed (manual syncs always do).",
    )

    webhook_delivery_window_s: float = Field(
        default=7 * 86_400.0,
        gt=0,
        description="How long webhook delivery ids are remembered to drop repeats (Pipedrive retries a"
        " failed delivery within minutes).",
    )

    @field_validator("oauth_return_urls", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(url.strip().rstrip("/") for url in value.split(",") if url.strip())
        return value

    @field_validator("oauth_return_urls")
    @classmethod
    def _are_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ValueError(f"{url!r} is not an origin such as http://127.0.0.1:8080")
        return value

    @property
    def oauth_callback_url(self) -> str:
        """The OAuth redirect URI the connector serves itself (and where Pipedrive sends the app's
        uninstall call)."""
        return f"{self.public_base_url.rstrip('/')}{OAUTH_CALLBACK_PATH}"
