"""The pusher's settings, from `PUSHER_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from pipedrive_client.crypto import CREDENTIALS_KEY_ENV, LOCAL_DEV_CREDENTIALS_KEY
from pusher.parking import ParkingLimits
from service_runtime.settings import ServiceSettings


class PusherSettings(ServiceSettings):
    """Settings of the pusher service."""

    model_config = SettingsConfigDict(env_prefix="PUSHER_", extra="ignore", frozen=True)

    http_port: int = 8083
    group_id: str = "psync-pusher"
    db_schema: str = "pusher"
    credentials_key: SecretStr = Field(
        default=SecretStr(LOCAL_DEV_CREDENTIALS_KEY),
        validation_alias=CREDENTIALS_KEY_ENV,
        description="AES-256 key (64 hex) of the stored Pipedrive credentials, shared with the connector.",
    )
    pipedrive_schema: str = Field(default="pipedrive_client", description="The Pipedrive client's schema.")
    pipedrive_sandbox_urls: str = Field(
        default="http://127.0.0.1:8765",
        description="Comma-separated sandbox base URLs the client may call (set empty in production).",
    )
    pipedrive_attempts: int = Field(
        default=2, ge=1, description="429 / 5xx answers per call before the tenant's pushes are parked."
    )
    oauth_client_id: str | None = Field(default=None, description="The marketplace app (OAuth refresh).")
    oauth_client_secret: SecretStr | None = None
    oauth_redirect_uri: str = ""
    oauth_base_url: str = "https://oauth.pipedrive.com"
    parked_retry_s: float = Field(
        default=30.0,
        gt=0,
        description="Seconds before a parked push that failed (not for the budget) retries.",
    )
    parked_max_failures: int = Field(
        default=10,
        ge=1,
        description="Failed re-drives (budget pauses not counted) before a parked push gives up.",
    )
    parked_max_age_s: float = Field(
        default=86_400.0,
        gt=0,
        description="Seconds a parked push may keep failing (budget pauses excepted) before it gives up.",
    )
    fault_kill_after_create: bool = Field(
        default=False, description="Tests only: SIGKILL the process right after a create call returns."
    )

    @property
    def parking_limits(self) -> ParkingLimits:
        """When parked pushes retry and give up."""
        return ParkingLimits(
            timedelta(seconds=self.parked_retry_s),
            self.parked_max_failures,
            timedelta(seconds=self.parked_max_age_s),
        )

    @property
    def sandbox_urls(self) -> tuple[str, ...]:
        """The sandbox base URLs as a tuple."""
        return tuple(u.strip() for u in self.pipedrive_sandbox_urls.split(",") if u.strip())
