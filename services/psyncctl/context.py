"""What every psyncctl command works with: its settings, Kafka, PostgreSQL (opened on first use), and the
shape of what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from postgres_store.pool import create_pool, where_is
from psyncctl.kafka_cluster import KafkaCluster
from psyncctl.settings import CtlSettings
from stream_runner import reachability


class Refused(Exception):
    """The command will not do what was asked, for a reason the operator can act on (exit status 3)."""


class Unreachable(Exception):
    """Kafka or PostgreSQL cannot be used: which one, at which address, and the variable that sets it
    (exit status 1)."""


@dataclass
class Report:
    """What a command found or did: `data` for --json, `rows` as a table and `notes` as lines for people."""

    data: Any
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Context:
    """Settings and connections of one psyncctl invocation (closed by `close`)."""

    def __init__(self, settings: CtlSettings) -> None:
        self.settings = settings
        self.kafka = KafkaCluster(settings.kafka_bootstrap, settings.topic_namespace)
        self._pool: asyncpg.Pool | None = None

    async def pool(self) -> asyncpg.Pool:
        """The PostgreSQL pool, opened on first use (Kafka-only commands never open one)."""
        if self._pool is None:
            url = self.settings.database_url.get_secret_value()
            try:
                self._pool = await create_pool(url, min_size=1, max_size=2, connect_deadline_s=15)
            except (reachability.Unreachable, asyncpg.PostgresError, asyncpg.InterfaceError) as failure:
                raise Unreachable(
                    f"PostgreSQL at DATABASE_URL ({where_is(url)}) cannot be used:"
                    f" {type(failure).__name__}: {failure}; check DATABASE_URL and that PostgreSQL is up"
                ) from failure
        return self._pool

    async def close(self) -> None:
        """Close Kafka clients and the pool."""
        await self.kafka.close()
        if self._pool is not None:
            await self._pool.close()

    def service_of_group(self, group: str) -> str | None:
        """The consuming service whose group this is, if any."""
        return next((s for s, g in self.settings.groups.items() if g == group), None)
