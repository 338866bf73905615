"""The pusher's settings, from `PUSHER_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from pipedrive_client.settings import PipedriveClientSettings
from pusher.parking import ParkingLimits
from service_runtime.settings import StreamServiceSettings


class PusherSettings(StreamServiceSettings):
    """Settings of the pusher service."""

    model_config = SettingsConfigDict(env_prefix="PUSHER_", extra="ignore", frozen=True)

    http_port: int = 8083
    group_id: str = "psync-pusher"
    db_schema: str = "pusher"
    # Pushes are applied one at a time (Pipedrive calls each): a poll holds at most 200 of them, well within
    # Kafka's max.poll.interval.ms; a poll of source changes only is topped up to 2,000, mirrored in one
    # transaction. A crashed replica's partitions come back after 10 s.
    max_batch: int = Field(default=2000, ge=1, le=10_000)
    poll_records: int | None = Field(default=200, ge=1, le=10_000)
    session_timeout_s: float = Field(default=10.0, ge=6.0)
    pipedrive: PipedriveClientSettings = Field(
        default_factory=PipedriveClientSettings,
        description="The shared Pipedrive client's settings (PIPEDRIVE_*, PSYNC_CREDENTIALS_KEY).",
    )
    pipedrive_attempts: int = Field(
        default=2, ge=1, description="429 / 5xx answers per call before the tenant's pushes are parked."
    )
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
    mapper_url: str = Field(
        default="http://127.0.0.1:8082",
        description="The mapper's HTTP API (the ABM store), read when a manual push names records by ABM id.",
    )

    @property
    def parking_limits(self) -> ParkingLimits:
        """When parked pushes retry and give up."""
        return ParkingLimits(
            timedelta(seconds=self.parked_retry_s),
            self.parked_max_failures,
            timedelta(seconds=self.parked_max_age_s),
        )
