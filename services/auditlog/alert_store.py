"""The alerts' Postgres adapter: each tenant's settings, the alerts raised (debounced: one per cause per
window) and the outbox of their webhook deliveries, written with the alert in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from auditlog.alert_rules import AlertSettings, RaisedAlert, alert_id_of, slack_message
from auditlog.ports import Delivery


class AlertStore:
    """Alert settings, alerts and deliveries of every tenant, each query scoped to one tenant (the
    delivery worker's claim excepted: it serves every tenant's outbox)."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self._pool = pool
        self._schema = schema

    async def settings(self, tenant: str) -> AlertSettings:
        """The tenant's alert settings (the defaults when it saved none)."""
        row = await self._pool.fetchrow(
            f"SELECT webhook_url, failure_threshold, window_minutes FROM {self._schema}.alert_settings"
            " WHERE tenant_id = $1",
            tenant,
        )
        return AlertSettings(**dict(row)) if row is not None else AlertSettings()

    async def save_settings(self, tenant: str, settings: AlertSettings) -> None:
        """Replace the tenant's alert settings."""
        await self._pool.execute(
            f"INSERT INTO {self._schema}.alert_settings (tenant_id, webhook_url, failure_threshold,"
            " window_minutes) VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET"
            " webhook_url = EXCLUDED.webhook_url, failure_threshold = EXCLUDED.failure_threshold,"
            " window_minutes = EXCLUDED.window_minutes, updated_at = now()",
            tenant, settings.webhook_url, settings.failure_threshold, settings.window_minutes,
        )  # fmt: skip

    async def raise_alert(self, alert: RaisedAlert, now: datetime) -> str | None:
        """Raise an alert, or count it into the alert of its cause raised within the tenant's window
        (debounced). An alert of an episode already alerted (a standing condition seen again) raises
        nothing and counts nothing; one debounced into an alert of the window makes that alert its
        episode's. A new alert is queued for the tenant's webhook in the same transaction. Its id, or
        None when it was debounced."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                f"auditlog-alert:{alert.tenant}:{alert.cause.value}",
            )
            if alert.episode is not None and await conn.fetchval(
                f"UPDATE {self._schema}.alerts SET last_seen_at = greatest(last_seen_at, $4)"
                " WHERE tenant_id = $1 AND cause = $2 AND episode = $3 RETURNING true",
                alert.tenant, alert.cause.value, alert.episode, now,
            ):  # fmt: skip
                return None
            row = await conn.fetchrow(
                f"SELECT webhook_url, failure_threshold, window_minutes FROM {self._schema}.alert_settings"
                " WHERE tenant_id = $1",
                alert.tenant,
            )
            settings = AlertSettings(**dict(row)) if row is not None else AlertSettings()
            debounced = await conn.fetchval(
                f"UPDATE {self._schema}.alerts SET occurrences = occurrences + 1, last_seen_at = $3,"
                " episode = coalesce(episode, $5)"
                f" WHERE (tenant_id, alert_id) = (SELECT tenant_id, alert_id FROM {self._schema}.alerts"
                "  WHERE tenant_id = $1 AND cause = $2 AND raised_at > $3::timestamptz - $4::interval"
                "  ORDER BY raised_at DESC LIMIT 1) RETURNING alert_id",
                alert.tenant, alert.cause.value, now, settings.window, alert.episode,
            )  # fmt: skip
            if debounced is not None:
                return None
            alert_id = alert_id_of(alert, now)
            await conn.execute(
                f"INSERT INTO {self._schema}.alerts (tenant_id, alert_id, cause, title, detail, raised_at,"
                " last_seen_at, episode, run_id) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)",
                alert.tenant, alert_id, alert.cause.value, alert.title, alert.detail, now, alert.episode,
                alert.run_id,
            )  # fmt: skip
            if settings.webhook_url is not None:
                await conn.execute(
                    f"INSERT INTO {self._schema}.alert_deliveries (tenant_id, alert_id, payload)"
                    " VALUES ($1, $2, $3)",
                    alert.tenant, alert_id, slack_message(alert, now),
                )  # fmt: skip
            return alert_id

    async def active_alerts(self, tenant: str, limit: int) -> list[dict[str, Any]]:
        """The tenant's alerts nobody acknowledged yet, newest first, with their delivery's state."""
        rows = await self._pool.fetch(
            f"SELECT a.alert_id, a.cause, a.title, a.detail, a.run_id, a.raised_at, a.last_seen_at,"
            f" a.occurrences, d.delivered_at, d.attempts, d.abandoned_at FROM {self._schema}.alerts a"
            f" LEFT JOIN {self._schema}.alert_deliveries d USING (tenant_id, alert_id)"
            " WHERE a.tenant_id = $1 AND a.acknowledged_at IS NULL ORDER BY a.raised_at DESC LIMIT $2",
            tenant, limit,
        )  # fmt: skip
        return [dict(r) for r in rows]

    async def acknowledge(self, tenant: str, alert_id: str, by: str | None) -> bool:
        """Take an alert off the banner; False when the tenant has no such alert."""
        found = await self._pool.fetchval(
            f"UPDATE {self._schema}.alerts SET acknowledged_at = coalesce(acknowledged_at, now()),"
            " acknowledged_by = coalesce(acknowledged_by, $3) WHERE tenant_id = $1 AND alert_id = $2"
            " RETURNING true",
            tenant, alert_id, by,
        )  # fmt: skip
        return bool(found)

    async def claim_due_deliveries(self, limit: int, lease_s: float) -> list[Delivery]:
        """Deliveries due now, each leased for `lease_s` (a replica that dies mid-delivery leaves it due
        again when the lease ends), with its attempt counted."""
        rows = await self._pool.fetch(
            f"UPDATE {self._schema}.alert_deliveries d SET attempts = d.attempts + 1,"
            " next_attempt_at = now() + make_interval(secs => $2)"
            f" FROM (SELECT tenant_id, alert_id FROM {self._schema}.alert_deliveries"
            "  WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_attempt_at <= now()"
            "  ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) due"
            " WHERE d.tenant_id = due.tenant_id AND d.alert_id = due.alert_id"
            " RETURNING d.tenant_id, d.alert_id, d.payload, d.attempts, d.created_at,"
            f" (SELECT s.webhook_url FROM {self._schema}.alert_settings s WHERE s.tenant_id = d.tenant_id)"
            " AS webhook_url",
            limit, lease_s,
        )  # fmt: skip
        columns = ("tenant_id", "alert_id", "payload", "attempts", "created_at", "webhook_url")
        return [Delivery(*(r[c] for c in columns)) for r in rows]

    async def delivered(self, delivery: Delivery) -> None:
        """Record a delivery the receiver accepted."""
        await self._pool.execute(
            f"UPDATE {self._schema}.alert_deliveries SET delivered_at = now(), last_error = NULL"
            " WHERE tenant_id = $1 AND alert_id = $2",
            delivery.tenant, delivery.alert_id,
        )  # fmt: skip

    async def retry_later(self, delivery: Delivery, error: str, after_s: float | None) -> None:
        """Record a failed attempt: try again after `after_s`, or give up (None)."""
        await self._pool.execute(
            f"UPDATE {self._schema}.alert_deliveries SET last_error = $3,"
            " next_attempt_at = now() + make_interval(secs => coalesce($4, 0)),"
            " abandoned_at = CASE WHEN $4::float8 IS NULL THEN now() END"
            " WHERE tenant_id = $1 AND alert_id = $2",
            delivery.tenant, delivery.alert_id, error[:500], after_s,
        )  # fmt: skip

    async def deliveries(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's deliveries, oldest first (operators and tests)."""
        rows = await self._pool.fetch(
            f"SELECT alert_id, attempts, delivered_at, abandoned_at, last_error FROM {self._schema}"
            ".alert_deliveries WHERE tenant_id = $1 ORDER BY created_at",
            tenant,
        )
        return [dict(r) for r in rows]
