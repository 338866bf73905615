"""Which statements PostgreSQL spent a run on, from `pg_stat_statements` (the local deployment preloads
it, deploy/local/postgres.sh): a snapshot before, one after, the difference by statement. Execution time
is wall time inside the server (waits for locks and, on a busy machine, for a CPU included), not CPU;
with the WAL each statement wrote and its rows it shows where the server's work goes. None when the view
is missing or unreadable (another PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

_SNAPSHOT = (
    "SELECT queryid, userid, calls, total_exec_time, rows, wal_bytes, query FROM pg_stat_statements"
    " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@dataclass(frozen=True)
class Statement:
    """One statement's cumulative figures."""

    query: str
    calls: int
    exec_ms: float
    rows: int
    wal_bytes: int


Snapshot = dict[tuple[int, int], Statement]


async def snapshot(pool: asyncpg.Pool) -> Snapshot | None:
    """The database's statements so far, or None without a readable pg_stat_statements."""
    try:
        rows = await pool.fetch(_SNAPSHOT)
    except (
        asyncpg.UndefinedTableError,
        asyncpg.InsufficientPrivilegeError,
        asyncpg.ObjectNotInPrerequisiteStateError,
    ):
        return None
    return {
        (r["queryid"], r["userid"]): Statement(
            r["query"], r["calls"], r["total_exec_time"], r["rows"], int(r["wal_bytes"])
        )
        for r in rows
        if r["queryid"] is not None
    }


def spent(before: Snapshot, after: Snapshot) -> list[Statement]:
    """What each statement did between the snapshots (those it did nothing in left out)."""
    empty = Statement("", 0, 0.0, 0, 0)
    out = []
    for key, now in after.items():
        was = before.get(key, empty)
        if now.calls > was.calls:
            out.append(
                Statement(now.query, now.calls - was.calls, now.exec_ms - was.exec_ms, now.rows - was.rows,
                          now.wal_bytes - was.wal_bytes)
            )  # fmt: skip
    return out


def owner_of(query: str, schemas: Mapping[str, str], own_queries: Mapping[str, str]) -> str:
    """Whose statement it is: the bench's own (`own_queries`: how its text begins -> owner), else the
    service whose schema it names (`schemas`: service -> schema), else "other" (transaction control,
    catalog reads)."""
    for start, owner in own_queries.items():
        if query.startswith(start):
            return owner
    for service, schema in schemas.items():
        if f"{schema}." in query or f'"{schema}".' in query:  # a COPY's table as asyncpg quotes it
            return service
    return "other"


def report(
    statements: list[Statement], schemas: Mapping[str, str], own_queries: Mapping[str, str], top: int = 12
) -> dict[str, Any]:
    """Totals by owner and the `top` statements by execution time, the run's schema names shortened."""
    by_owner: dict[str, dict[str, float]] = {}
    for s in statements:
        owner = owner_of(s.query, schemas, own_queries)
        totals = by_owner.setdefault(owner, {"calls": 0, "exec_s": 0.0, "rows": 0, "wal_mb": 0.0})
        totals["calls"] += s.calls
        totals["exec_s"] += s.exec_ms / 1000
        totals["rows"] += s.rows
        totals["wal_mb"] += s.wal_bytes / 1e6
    rounded = {
        owner: {k: round(v, 1) if isinstance(v, float) else v for k, v in totals.items()}
        for owner, totals in sorted(by_owner.items(), key=lambda item: -item[1]["exec_s"])
    }
    largest = sorted(statements, key=lambda s: -s.exec_ms)[:top]
    return {
        "by_owner": rounded,
        "top_by_execution_time": [
            {
                "owner": owner_of(s.query, schemas, own_queries),
                "query": _shortened(s.query, schemas),
                "calls": s.calls,
                "exec_s": round(s.exec_ms / 1000, 2),
                "rows": s.rows,
                "wal_mb": round(s.wal_bytes / 1e6, 1),
            }
            for s in largest
        ],
    }


def _shortened(query: str, schemas: Mapping[str, str], length: int = 160) -> str:
    text = " ".join(query.split())
    for service, schema in schemas.items():
        text = text.replace(f'"{schema}".', f"<{service}>.").replace(f"{schema}.", f"<{service}>.")
    return text[:length]
