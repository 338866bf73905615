"""The auditlog's API as OpenAPI 3.1 (served at /openapi.json; docs/openapi/auditlog.json): the activity
log, its retries and the alerts."""

from __future__ import annotations

from typing import Any

from auditlog.activity_api import EntriesExportQuery, EntriesQuery, RunsQuery
from auditlog.alert_api import AlertsQuery
from auditlog.alert_rules import AlertSettings
from auditlog.audit_api import AuditQuery
from auditlog.retry_api import RetryAnswer
from service_runtime.openapi import Operation, openapi_document

PATHS = {
    "/v1/alerts": {
        "get": Operation(
            "Active alerts (not acknowledged), newest first: the console's banner", query=AlertsQuery
        )
    },
    "/v1/alerts/settings": {
        "get": Operation(
            "The alert settings: notification webhook, failure threshold and window", errors=(401,)
        ),
        "put": Operation(
            "Replace the alert settings (a webhook gets Slack-compatible JSON)",
            body=AlertSettings,
            response=AlertSettings,
        ),
    },
    "/v1/alerts/{alert_id}/acknowledge": {
        "post": Operation("Take an alert off the banner", errors=(400, 401, 404))
    },
    "/v1/audit": {
        "get": Operation(
            "Who changed what: settings, connects, disconnects, API keys; newest first", query=AuditQuery
        )
    },
    "/v1/runs": {"get": Operation("Every run of every service, newest first", query=RunsQuery)},
    "/v1/runs/{run_id}": {
        "get": Operation(
            "One run: counts, tokens, status (running; finishing while its records' entries arrive;"
            " Success, Warning or Error), results_pending, message, links",
            errors=(400, 401, 404),
        )
    },
    "/v1/runs/{run_id}/retry": {
        "post": Operation(
            "Retry the run's failed records as a new run linked to it (the connector re-reads them, the"
            " pusher pushes them again); a retry still running is answered, not started twice",
            response=RetryAnswer,
            ok=202,
            errors=(401, 404, 409, 422, 502),
        )
    },
    "/v1/runs/{run_id}/entries": {
        "get": Operation(
            "A run's per-record entries, oldest first", query=EntriesQuery, errors=(400, 401, 404)
        )
    },
    "/v1/runs/{run_id}/entries.csv": {
        "get": Operation(
            "All of a run's entries as CSV (text/csv)", query=EntriesExportQuery, errors=(400, 401, 404)
        )
    },
}


def auditlog_openapi() -> dict[str, Any]:
    """The auditlog's OpenAPI document."""
    return openapi_document("psync auditlog", PATHS, description="The activity log of every sync.")
