"""What raises an alert from what the auditlog consumes: a run's end (an Error, refused credentials)."""

from __future__ import annotations

from datetime import datetime

from auditlog.alert_rules import alert_of_finished_run, is_recent
from auditlog.ports import AlertRaising
from schemas.events.sync_runs import RunFinished


async def alert_on_run_finished(alerts: AlertRaising, tenant: str, run: RunFinished, now: datetime) -> None:
    """Raise the alert of a run's end, if it has one and ended within the tenant's window (a replay of old
    runs raises nothing). Called for a redelivered end too: a crash between the activity log's write and
    the alert's loses nothing, and the debounce keeps it at one."""
    alert = alert_of_finished_run(tenant, run)
    if alert is None:
        return
    settings = await alerts.settings(tenant)
    if is_recent(run.finished_at, now, settings.window):
        await alerts.raise_alert(alert, now)
