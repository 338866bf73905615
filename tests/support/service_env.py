"""The environment of a service process a test starts, of the test's own: a consumer group no other test
uses, positioned at the end of the topics the service consumes (the process reads only what the test
produces, not every earlier run's history), and a schema of its own, dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from schemas.topics import topics_consumed_by
from tests.support.kafka_offsets import position_group_at_end
from tests.support.schemas import fresh_schema


@asynccontextmanager
async def isolated_env(
    pool: asyncpg.Pool, bootstrap: str, service: str, **settings: str
) -> AsyncIterator[dict[str, str]]:
    """`<SERVICE>_GROUP_ID` (`itest-<service>-<8 hex>`, at the end of its topics) and `<SERVICE>_DB_SCHEMA`
    (a `fresh_schema` the process creates its tables in), with `settings` as `<SERVICE>_<NAME>`
    (`commit_interval_s="0.2"`: `MAPPER_COMMIT_INTERVAL_S`)."""
    prefix = service.upper()
    group = f"itest-{service}-{secrets.token_hex(4)}"
    await position_group_at_end(bootstrap, group, topics_consumed_by(service))
    async with fresh_schema(pool, service) as schema:
        yield {
            f"{prefix}_GROUP_ID": group,
            f"{prefix}_DB_SCHEMA": schema,
            **{f"{prefix}_{name.upper()}": value for name, value in settings.items()},
        }
