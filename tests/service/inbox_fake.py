"""The inbox in memory: which events a service applied, and what each produced (checked against the
Postgres inbox by tests/stores)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from postgres_store.inbox import first_claims
from stream_runner.messages import EventRef, OutgoingMessage


@dataclass
class InboxRow:
    """One applied event: the topic it came from and what it produced (None until saved)."""

    topic: str
    outputs: list[OutgoingMessage] | None = None


@dataclass
class InMemoryInbox:
    """Rows by (tenant, event id)."""

    rows: dict[EventRef, InboxRow] = field(default_factory=dict)

    async def claim(self, tenant: str, event_id: str, topic: str) -> bool:
        if (tenant, event_id) in self.rows:
            return False
        self.rows[(tenant, event_id)] = InboxRow(topic)
        return True

    async def claim_batch(self, events: Sequence[tuple[str, str, str]]) -> list[bool]:
        claimed = {(t, e) for t, e, topic in events if await self.claim(t, e, topic)}
        return first_claims([(t, e) for t, e, _ in events], claimed)

    async def claim_with_outputs(
        self, events: Sequence[tuple[str, str, str, Sequence[OutgoingMessage]]]
    ) -> int:
        claimed = 0
        for tenant, event_id, topic, outputs in events:
            if (tenant, event_id) not in self.rows:
                self.rows[(tenant, event_id)] = InboxRow(topic, list(outputs))
                claimed += 1
        return claimed

    async def claim_all_with_outputs(
        self, events: Sequence[tuple[str, str, str, Sequence[OutgoingMessage]]]
    ) -> bool:
        if any((tenant, event_id) in self.rows for tenant, event_id, _, _ in events):
            return False
        return await self.claim_with_outputs(events) == len(events)

    async def was_applied(self, tenant: str, event_id: str) -> bool:
        return (tenant, event_id) in self.rows

    async def applied_outputs(self, tenant: str, event_id: str) -> list[OutgoingMessage] | None:
        row = self.rows.get((tenant, event_id))
        return None if row is None else list(row.outputs or [])

    async def saved_outputs(self, tenant: str, event_id: str) -> list[OutgoingMessage]:
        row = self.rows.get((tenant, event_id))
        return list(row.outputs or []) if row is not None else []

    async def saved_outputs_of(self, events: Sequence[EventRef]) -> dict[EventRef, list[OutgoingMessage]]:
        return {event: await self.saved_outputs(*event) for event in events}

    async def save_outputs(self, tenant: str, event_id: str, outputs: Sequence[OutgoingMessage]) -> None:
        row = self.rows.get((tenant, event_id))
        if row is not None:
            row.outputs = list(outputs)

    async def save_outputs_of(self, outputs: Sequence[tuple[str, str, Sequence[OutgoingMessage]]]) -> None:
        for tenant, event_id, messages in outputs:
            await self.save_outputs(tenant, event_id, messages)
