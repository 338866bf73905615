"""The auditlog's settings, from `AUDITLOG_*` (and the shared `KAFKA_BOOTSTRAP` / `DATABASE_URL`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from service_runtime.settings import StreamServiceSettings


class AuditlogSettings(StreamServiceSettings):
    """Settings of the auditlog service."""

    model_config = SettingsConfigDict(env_prefix="AUDITLOG_", extra="ignore", frozen=True)

    http_port: int = 8084
    group_id: str = "psync-auditlog"
    db_schema: str = "auditlog"
    connector_url: str = Field(
        default="http://127.0.0.1:8081",
        description="The connector's HTTP API: a retry of an inbound run's failed records reads them again.",
    )
    pusher_url: str = Field(
        default="http://127.0.0.1:8083",
        description="The pusher's HTTP API: a retry of an outbound run's failed records pushes them there.",
    )
    alert_webhook_http_hosts: str = Field(
        default="127.0.0.1,localhost",
        description="Comma-separated hosts a tenant's alert webhook may use over plain http and at a private,"
        " loopback or link-local address (a local receiver); every other webhook must be https to a public"
        " address. Set it empty in production.",
    )
    alert_windows: bool = Field(
        default=True,
        description="Run the alert windows (the faust app counting failures and dead letters per tenant).",
    )
    alert_poll_every_s: float = Field(default=1.0, gt=0, description="How often due alerts are looked for.")
    alert_first_retry_s: float = Field(default=2.0, gt=0, description="First retry of a failed delivery.")
    alert_most_retry_s: float = Field(default=600.0, gt=0, description="Longest wait between retries.")
    alert_give_up_after_s: float = Field(default=86_400.0, gt=0, description="A delivery is abandoned after.")

    alert_pipedrive_poll_s: float = Field(
        default=60.0,
        gt=0,
        description="How often the Pipedrive client's schema is read for spent daily budgets and refused"
        " connections (the `budget` and `credentials` alerts no event carries).",
    )
    pipedrive_client_schema: str = Field(
        default="pipedrive_client",
        validation_alias=AliasChoices("AUDITLOG_PIPEDRIVE_CLIENT_SCHEMA", "PIPEDRIVE_CLIENT_SCHEMA"),
        description="The Pipedrive client's schema (credentials, budget), as connector and pusher name it.",
    )
    pipedrive_budget_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        validation_alias=AliasChoices("AUDITLOG_PIPEDRIVE_BUDGET_SHARE", "PIPEDRIVE_BUDGET_SHARE"),
        description="This integration's share of the daily budget, as the connector and pusher spend it.",
    )

    @property
    def webhook_http_hosts(self) -> frozenset[str]:
        """The hosts a webhook may use over plain http."""
        return frozenset(h.strip() for h in self.alert_webhook_http_hosts.split(",") if h.strip())
