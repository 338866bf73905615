"""The CloudEvents 1.0 envelope (structured JSON mode) every event of the system travels in.

Besides the required CloudEvents attributes we carry three extension attributes, lowercase as the
CloudEvents spec requires: `tenantid`, `correlationid` (the sync run or import the event belongs to) and
`causationid` (the id of the input event that caused it, absent for events with no input event).

Event ids are deterministic: `deterministic_event_id` derives them from the inputs, so a replay re-emits
the same ids and consumers can drop what they already applied.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

_EVENT_ID_NAMESPACE = uuid.UUID("6f1c1d2e-4b7a-5b8e-9a51-2f0d3c6e7a10")

DataT = TypeVar("DataT", bound=BaseModel)

TENANT_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"
"""What a tenant id may hold: it travels in every event's `tenantid` and every Kafka key (`:` separates
a key's parts, so it is never part of a tenant id)."""
TENANT_ID_MAX_LENGTH = 100
_TENANT_ID = re.compile(TENANT_ID_PATTERN)


def is_valid_tenant_id(tenant: str) -> bool:
    """Whether `tenant` can be a tenant id (the envelope's `tenantid` rule)."""
    return 0 < len(tenant) <= TENANT_ID_MAX_LENGTH and _TENANT_ID.fullmatch(tenant) is not None


_NAMESPACE_BYTES = _EVENT_ID_NAMESPACE.bytes
_NAMESPACE_SHA1 = hashlib.sha1(_NAMESPACE_BYTES, usedforsecurity=False)
"""The hash after the namespace, copied per id: a copy costs about a third of `hashlib.sha1(...)`, which
looks the digest up in OpenSSL each time."""
_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


def deterministic_event_id(*parts: object) -> str:
    """A stable event id derived from the inputs that produce the event (UUIDv5 over the parts).

    Computed as `uuid.uuid5` does (SHA-1 of namespace and name, version and variant bits set), without
    building UUID objects: it runs twice per applied record.
    """
    return event_id_of_name("\x1f".join(map(str, parts)))


def event_id_of_name(name: str) -> str:
    """The event id of parts already joined by `\\x1f` (`deterministic_event_id(*parts)` is
    `event_id_of_name("\\x1f".join(map(str, parts)))`), for callers that keep the constant parts joined."""
    hashed = _NAMESPACE_SHA1.copy()
    hashed.update(name.encode())
    h = hashed.hexdigest()
    # The version (5) replaces the 13th hex digit, the RFC 4122 variant the top bits of the 17th.
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 event in structured JSON mode with our extension attributes."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=200, description="Deterministic id derived from the inputs.")
    source: str = Field(min_length=1, description="URI-reference of the producer, e.g. /psync/connector.")
    type: str = Field(min_length=1, description="Event type, e.g. psync.source.changed.")
    time: datetime = Field(description="When the fact happened (RFC 3339, UTC).")
    subject: str = Field(min_length=1, description="The record the event is about: the Kafka key.")
    datacontenttype: Literal["application/json"] = "application/json"
    tenantid: str = Field(min_length=1, max_length=TENANT_ID_MAX_LENGTH, pattern=TENANT_ID_PATTERN)
    correlationid: str | None = Field(default=None, description="The sync run or import this belongs to.")
    causationid: str | None = Field(default=None, description="The id of the input event, if any.")
    data: DataT

    @field_validator("time")
    @classmethod
    def _time_is_aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a timezone (RFC 3339)")
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:  # 0001-01-01T00:30:00+01:00: before year 1 in UTC
            raise ValueError("time must fall within the years 1 to 9999 in UTC") from exc
