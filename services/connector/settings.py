"""The connector's settings, from `CONNECTOR_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pipedrive_client.settings import LOCAL_SANDBOX_URL, PipedriveClientSettings
from service_runtime.settings import ServiceSettings


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
    public_base_url: str = Field(
        default="http://127.0.0.1:8081", description="Where Pipedrive reaches our webhook receiver."
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
