"""What psyncctl reads of the auditlog's activity log (its own queries on the auditlog's schema): which
tenant a run belongs to, and how many of a run's records failed."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg


async def tenants_of_run(pool: asyncpg.Pool, schema: str, run_id: str, tenant: str | None) -> list[str]:
    """The tenants with a run of that id (only `tenant`, when one is named), sorted."""
    rows = await pool.fetch(
        f"SELECT tenant_id FROM {schema}.runs WHERE run_id = $1 AND ($2::text IS NULL OR tenant_id = $2)",
        run_id,
        tenant,
    )
    return sorted({str(r["tenant_id"]) for r in rows})


async def failed_entries(pool: asyncpg.Pool, schema: str, tenant: str, run_ids: Sequence[str]) -> int:
    """How many entries of the runs failed."""
    count = await pool.fetchval(
        f"SELECT count(*) FROM {schema}.entries"
        " WHERE tenant_id = $1 AND run_id = ANY($2::text[]) AND outcome = 'failed'",
        tenant,
        list(run_ids),
    )
    return int(count or 0)
