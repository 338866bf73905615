"""The pusher's settings, from `PUSHER_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import Field, model_validator
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
    # Pushes make Pipedrive calls each (100 to 300 ms apiece): a poll holds at most 16 of them, each
    # tenant's applied in order and the tenants side by side (`tenant_concurrency`), so an event polled
    # next (another tenant's reveal, on its live turn) waits for at most 16 pushes of one tenant, not 200.
    # A poll of source changes only is topped up to 2,000, mirrored in one transaction. A crashed replica's
    # partitions come back after 10 s.
    max_batch: int = Field(default=2000, ge=1, le=10_000)
    poll_records: int | None = Field(default=16, ge=1, le=10_000)
    session_timeout_s: float = Field(default=10.0, ge=6.0)
    tenant_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Tenants whose pushes of one poll are run at once, each tenant's in order: one tenant's"
        " burst of pushes does not hold another tenant's behind it. Each push in flight holds a PostgreSQL"
        " connection for its record's lock and takes another: db_pool_size must be at least twice this"
        " and 2 (the API and the workers).",
    )
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

    @model_validator(mode="after")
    def _pool_serves_the_pushes_in_flight(self) -> Self:
        """A pool too small for the pushes run at once would leave them waiting for each other's
        connections (and the API and the workers for theirs)."""
        needed = 2 * self.tenant_concurrency + 2
        if self.db_pool_size < needed:
            raise ValueError(
                f"PUSHER_DB_POOL_SIZE {self.db_pool_size} is below 2 x PUSHER_TENANT_CONCURRENCY + 2 ="
                f" {needed} (each push in flight holds a connection for its record's lock and takes another)"
            )
        return self

    @property
    def parking_limits(self) -> ParkingLimits:
        """When parked pushes retry and give up."""
        return ParkingLimits(
            timedelta(seconds=self.parked_retry_s),
            self.parked_max_failures,
            timedelta(seconds=self.parked_max_age_s),
        )
