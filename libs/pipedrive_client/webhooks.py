"""Webhooks (v1): register, list and remove the deliveries Pipedrive sends us."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from pipedrive_client.endpoints import Endpoint
from pipedrive_client.errors import UnexpectedResponse
from pipedrive_client.http import PipedriveHttp
from pipedrive_client.models import Webhook
from pipedrive_client.shapes import parse_as


@dataclass(frozen=True)
class WebhookSubscription:
    """What to subscribe to; Pipedrive sends `http_auth_user`/`http_auth_password` as Basic auth."""

    subscription_url: str
    event_action: str
    event_object: str
    name: str | None = None
    http_auth_user: str | None = None
    http_auth_password: SecretStr | None = None
    version: str = "2.0"

    def as_body(self) -> dict[str, Any]:
        """The JSON body of `POST /v1/webhooks`."""
        body: dict[str, Any] = {
            "subscription_url": self.subscription_url,
            "event_action": self.event_action,
            "event_object": self.event_object,
            "version": self.version,
        }
        if self.name:
            body["name"] = self.name
        if self.http_auth_user is not None and self.http_auth_password is not None:
            body["http_auth_user"] = self.http_auth_user
            body["http_auth_password"] = self.http_auth_password.get_secret_value()
        return body


class WebhooksResource:
    """The company's webhooks."""

    def __init__(self, http: PipedriveHttp) -> None:
        self._http = http

    async def create(self, subscription: WebhookSubscription) -> Webhook:
        """Register a webhook (not retried on ambiguous failures: list before creating again)."""
        answer = await self._http.call(Endpoint("v1", "POST", "/webhooks"), body=subscription.as_body())
        return parse_as(Webhook, answer.data, "a created webhook")

    async def list(self) -> list[Webhook]:
        """Every webhook of the company."""
        answer = await self._http.call(Endpoint("v1", "GET", "/webhooks"))
        if not isinstance(answer.data, list):
            raise UnexpectedResponse("Unexpected response from Pipedrive: webhooks is not a list")
        return [parse_as(Webhook, item, "a webhook") for item in answer.data]

    async def delete(self, webhook_id: int) -> None:
        """Remove a webhook."""
        await self._http.call(Endpoint("v1", "DELETE", "/webhooks/{id}"), {"id": webhook_id})
