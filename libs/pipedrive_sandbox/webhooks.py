"""Webhooks: subscriptions, v2 payloads, deliveries with Pipedrive's retry schedule and ban rule.

A failed delivery is retried after 3, 30 and 150 seconds; 10 failed first attempts in a row ban the webhook
for 30 minutes (events in that time are dropped); 3 days without a success delete it. All times come from the
sandbox clock, so tests advance it instead of waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from pipedrive_sandbox.account import Account
from pipedrive_sandbox.clock import SandboxClock
from pipedrive_sandbox.custom_fields import typed_custom_fields
from pipedrive_sandbox.errors import InvalidRequest, NotFound
from pipedrive_sandbox.events import Action, ChangeEvent
from pipedrive_sandbox.faults import Faults
from pipedrive_sandbox.timestamps import format_time

RETRY_DELAYS_SECONDS = (3, 30, 150)
FAILED_FIRST_ATTEMPTS_BEFORE_BAN = 10
BAN_SECONDS = 30 * 60
DELETE_AFTER_SECONDS_WITHOUT_SUCCESS = 3 * 24 * 3600
WEBHOOKS_PER_USER = 40
EVENT_ACTIONS = ("create", "change", "delete", "*")
EVENT_OBJECTS = (
    "activity",
    "deal",
    "lead",
    "note",
    "organization",
    "person",
    "pipeline",
    "product",
    "stage",
    "user",
    "*",
)


@dataclass
class Webhook:
    """A subscription made through `POST /v1/webhooks`."""

    id: int
    subscription_url: str
    event_action: str
    event_object: str
    name: str
    user_id: int
    version: str
    add_ts: float
    http_auth_user: str | None = None
    http_auth_password: str | None = None
    failed_first_attempts: int = 0
    banned_until: float = 0.0
    last_success_ts: float = 0.0
    last_delivery_ts: float | None = None
    last_http_status: int | None = None

    def matches(self, event: ChangeEvent) -> bool:
        """True when this webhook subscribes to the event's action and object."""
        return self.event_action in ("*", event.action.value) and self.event_object in (
            "*",
            event.entity.value,
        )

    def as_v1(self, company_id: int) -> dict[str, Any]:
        """The webhook in the v1 shape (the password is never echoed back)."""
        return {
            "id": self.id,
            "company_id": company_id,
            "owner_id": self.user_id,
            "user_id": self.user_id,
            "event_action": self.event_action,
            "event_object": self.event_object,
            "subscription_url": self.subscription_url,
            "version": self.version,
            "is_active": 1,
            "add_time": format_time(int(self.add_ts)),
            "remove_time": None,
            "type": "general",
            "http_auth_user": self.http_auth_user,
            "http_auth_password": "******" if self.http_auth_password else None,
            "remove_reason": None,
            "last_delivery_time": format_time(int(self.last_delivery_ts)) if self.last_delivery_ts else None,
            "last_http_status": self.last_http_status,
            "admin_id": self.user_id,
            "name": self.name,
        }


@dataclass(order=True)
class _Delivery:
    due: float
    sequence: int
    webhook_id: int = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    attempt: int = field(compare=False)


@dataclass(frozen=True)
class DeliveryAttempt:
    """One attempt to deliver one event, as the admin API reports it."""

    webhook_id: int
    event_id: str
    entity: str
    action: str
    attempt: int
    time: float
    status: int | None
    ok: bool
    error: str | None = None


class WebhookDispatcher:
    """Holds the webhooks of the company and delivers change events to them."""

    def __init__(
        self, clock: SandboxClock, account: Account, faults: Faults, company_id: int, timeout: float
    ):
        self.clock = clock
        self.account = account
        self.faults = faults
        self.company_id = company_id
        self.timeout = timeout
        self.host = "sandbox.pipedrive.local"
        self.webhooks: dict[int, Webhook] = {}
        self.attempts: list[DeliveryAttempt] = []
        self.dropped: list[dict[str, Any]] = []
        self.removed: list[int] = []
        self._queue: list[_Delivery] = []
        self._sequence = itertools.count()
        self._next_id = 1
        self._in_flight: set[asyncio.Task[None]] = set()

    def add(self, body: dict[str, Any], user_id: int) -> Webhook:
        """Create a webhook from a `POST /v1/webhooks` body."""
        errors = _check_webhook_body(body)
        if errors:
            raise InvalidRequest("; ".join(errors))
        if sum(1 for w in self.webhooks.values() if w.user_id == user_id) >= WEBHOOKS_PER_USER:
            raise InvalidRequest(f"A user can have at most {WEBHOOKS_PER_USER} webhooks")
        webhook = Webhook(
            id=self._next_id,
            subscription_url=body["subscription_url"],
            event_action=body["event_action"],
            event_object=body["event_object"],
            name=body["name"],
            user_id=int(body.get("user_id") or user_id),
            version=str(body.get("version") or "2.0"),
            add_ts=self.clock.now(),
            http_auth_user=body.get("http_auth_user"),
            http_auth_password=body.get("http_auth_password"),
            last_success_ts=self.clock.now(),
        )
        self._next_id += 1
        self.webhooks[webhook.id] = webhook
        return webhook

    def remove(self, webhook_id: int) -> None:
        """Delete a webhook; pending retries to it are dropped."""
        if self.webhooks.pop(webhook_id, None) is None:
            raise NotFound("Webhook not found")

    def publish(self, event: ChangeEvent) -> None:
        """Queue the event's first delivery attempt to every matching webhook (listener for EntityService)."""
        now = self.clock.now()
        for webhook in list(self.webhooks.values()):
            if not webhook.matches(event):
                continue
            payload = self._payload(event, webhook)
            if now < webhook.banned_until:
                self.dropped.append({"webhook_id": webhook.id, "event_id": payload["meta"]["id"]})
                continue
            heapq.heappush(self._queue, _Delivery(now, next(self._sequence), webhook.id, payload, 1))

    def next_due(self) -> float | None:
        """When the next queued delivery attempt is due (sandbox time), or None when none is queued."""
        return self._queue[0].due if self._queue else None

    def pending(self) -> int:
        """Deliveries waiting (including scheduled retries) or in flight."""
        return len(self._queue) + len(self._in_flight)

    async def run(self, session: aiohttp.ClientSession) -> None:
        """Deliver due attempts until cancelled; wakes at least every 20 ms of real time."""
        while True:
            now = self.clock.now()
            while self._queue and self._queue[0].due <= now:
                delivery = heapq.heappop(self._queue)
                task = asyncio.create_task(self._deliver(session, delivery))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)
            next_due = self._queue[0].due if self._queue else now + 3600
            await self.clock.sleep_until(next_due, max_real_wait=0.02)

    async def _deliver(self, session: aiohttp.ClientSession, delivery: _Delivery) -> None:
        webhook = self.webhooks.get(delivery.webhook_id)
        if webhook is None:
            return
        payload = {**delivery.payload, "meta": {**delivery.payload["meta"], "attempt": delivery.attempt}}
        status, error = await self._post(session, webhook, payload)
        ok = status is not None and 200 <= status < 300
        now = self.clock.now()
        meta = payload["meta"]
        self.attempts.append(
            DeliveryAttempt(
                webhook.id,
                meta["id"],
                meta["entity"],
                meta["action"],
                delivery.attempt,
                now,
                status,
                ok,
                error,
            )
        )
        webhook.last_delivery_ts, webhook.last_http_status = now, status
        if ok:
            webhook.last_success_ts = now
            if delivery.attempt == 1:
                webhook.failed_first_attempts = 0
            return
        self._after_failure(webhook, delivery, now)

    def _after_failure(self, webhook: Webhook, delivery: _Delivery, now: float) -> None:
        if now - webhook.last_success_ts > DELETE_AFTER_SECONDS_WITHOUT_SUCCESS:
            self.webhooks.pop(webhook.id, None)
            self.removed.append(webhook.id)
            return
        if delivery.attempt == 1:
            webhook.failed_first_attempts += 1
            if webhook.failed_first_attempts >= FAILED_FIRST_ATTEMPTS_BEFORE_BAN:
                webhook.banned_until = now + BAN_SECONDS
                webhook.failed_first_attempts = 0
        if delivery.attempt <= len(RETRY_DELAYS_SECONDS):
            due = now + RETRY_DELAYS_SECONDS[delivery.attempt - 1]
            retry = _Delivery(due, next(self._sequence), webhook.id, delivery.payload, delivery.attempt + 1)
            heapq.heappush(self._queue, retry)

    async def _post(
        self, session: aiohttp.ClientSession, webhook: Webhook, payload: dict[str, Any]
    ) -> tuple[int | None, str | None]:
        if self.faults.webhooks_unreachable:
            return None, "target unreachable (fault injected)"
        headers = {}
        if webhook.http_auth_user is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(
                webhook.http_auth_user, webhook.http_auth_password or ""
            )
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with session.post(
                webhook.subscription_url, json=payload, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                return response.status, None
        except (aiohttp.ClientError, TimeoutError) as error:
            return None, f"{type(error).__name__}: {error}"

    def _payload(self, event: ChangeEvent, webhook: Webhook) -> dict[str, Any]:
        definitions = self.account.custom_fields(event.entity)
        meta: dict[str, Any] = {
            "action": event.action.value,
            "company_id": str(self.company_id),
            "correlation_id": str(uuid.uuid4()),
            "entity_id": str(event.entity_id),
            "entity": event.entity.value,
            "id": str(uuid.uuid4()),
            "is_bulk_edit": False,
            "timestamp": _millis(event.timestamp),
            "type": "general",
            "user_id": str(event.user_id),
            "version": "2.0",
            "webhook_id": str(webhook.id),
            "webhook_owner_id": str(webhook.user_id),
            "change_source": event.change_source.value,
            "attempt": 1,
            "host": self.host,
        }
        if event.merged_to_id is not None:
            meta["merged_to_id"] = event.merged_to_id
        if event.merged_from_id is not None:
            meta["merged_from_id"] = event.merged_from_id
        data = webhook_shape(event.data, definitions) if event.data is not None else None
        previous: dict[str, Any] | None = None
        if event.action is Action.DELETE:
            previous = webhook_shape(event.previous or {}, definitions)
        elif event.action is Action.CHANGE and event.previous is not None:
            previous = webhook_shape(event.previous, definitions, partial=True)
        return {"data": data, "previous": previous, "meta": meta}


def webhook_shape(
    record: dict[str, Any], definitions: dict[str, Any], partial: bool = False
) -> dict[str, Any]:
    """A record as webhooks v2 carry it: typed custom fields and `visible_to` as a string."""
    shaped = dict(record)
    if "visible_to" in shaped:
        shaped["visible_to"] = str(shaped["visible_to"])
    if "custom_fields" in shaped:
        shaped["custom_fields"] = typed_custom_fields(shaped["custom_fields"], definitions)
    elif not partial:
        shaped["custom_fields"] = {}
    return shaped


def _millis(epoch: float) -> str:
    return format_time(int(epoch))[:-1] + f".{int(epoch * 1000) % 1000:03d}Z"


def _check_webhook_body(body: dict[str, Any]) -> list[str]:
    errors = [
        f"{key} is required"
        for key in ("subscription_url", "event_action", "event_object", "name")
        if not body.get(key)
    ]
    if body.get("event_action") and body["event_action"] not in EVENT_ACTIONS:
        errors.append("event_action is invalid")
    if body.get("event_object") and body["event_object"] not in EVENT_OBJECTS:
        errors.append("event_object is invalid")
    url = str(body.get("subscription_url") or "")
    if url and not url.startswith(("http://", "https://")):
        errors.append("subscription_url must be an http(s) URL")
    if body.get("version") not in (None, "1.0", "2.0"):
        errors.append("version must be 1.0 or 2.0")
    return errors
