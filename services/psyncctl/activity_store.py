"""What psyncctl reads of the auditlog's activity log (its own queries on the auditlog's schema): which
tenant a run belongs to (its failed records psyncctl reads with the auditlog's own code)."""

from __future__ import annotations

import asyncpg


async def tenants_of_run(pool: asyncpg.Pool, schema: str, run_id: str, tenant: str | None) -> list[str]:
    """The tenants with a run of that id (only `tenant`, when one is named), sorted."""
    rows = await pool.fetch(
        f"SELECT tenant_id FROM {schema}.runs WHERE run_id = $1 AND ($2::text IS NULL OR tenant_id = $2)",
        run_id,
        tenant,
    )
    return sorted({str(r["tenant_id"]) for r in rows})
