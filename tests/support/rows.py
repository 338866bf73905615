"""Reading what a service process writes to the schema it creates itself, while it may not have yet."""

from __future__ import annotations

import asyncpg


async def count_rows(pool: asyncpg.Pool, query: str, *args: object) -> int:
    """The count `query` answers; 0 while its table is not there yet (the service process creates it)."""
    try:
        return int(await pool.fetchval(query, *args) or 0)
    except asyncpg.UndefinedTableError:
        return 0
