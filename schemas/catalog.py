"""The catalog: every event type, its payload model, its topic and its CloudEvent model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from pydantic import BaseModel

from schemas import topics
from schemas.envelope import CloudEvent, deterministic_event_id
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched, ScoreChanged
from schemas.events.audit import AuditRecorded
from schemas.events.push import PushCompleted, PushRequested
from schemas.events.record_results import RecordApplied
from schemas.events.settings import TenantSettings
from schemas.events.source_changes import SourceChange
from schemas.events.sync_runs import RunFinished, RunStarted


@dataclass(frozen=True)
class EventType:
    """One event type: the CloudEvents `type`, its payload model, the topic it travels on and the other
    topics it may travel on too (`also_on`)."""

    name: str
    payload: type[BaseModel]
    topic: topics.TopicSpec
    also_on: tuple[topics.TopicSpec, ...] = ()

    @property
    def topics(self) -> tuple[topics.TopicSpec, ...]:
        """Every topic the type travels on, its own first."""
        return (self.topic, *self.also_on)

    @property
    def envelope(self) -> type[CloudEvent[BaseModel]]:
        """The concrete CloudEvent model of this type (validates `data` against the payload)."""
        return _envelope_of(self.payload)


@cache  # parametrizing a generic model costs more than validating a small event: once per type
def _envelope_of(payload: type[BaseModel]) -> type[CloudEvent[BaseModel]]:
    return CloudEvent[payload]  # type: ignore[valid-type]


EVENT_TYPES: tuple[EventType, ...] = (
    EventType("psync.source.changed", SourceChange, topics.SOURCE_CHANGES, (topics.BULK_SOURCE_CHANGES,)),
    EventType("psync.settings.updated", TenantSettings, topics.SETTINGS),
    EventType("psync.run.started", RunStarted, topics.SYNC_RUNS),
    EventType("psync.run.finished", RunFinished, topics.SYNC_RUNS),
    EventType("abm.company.revealed", CompanyRevealed, topics.COMPANY_REVEALED),
    EventType("abm.contact.enriched", ContactEnriched, topics.CONTACT_ENRICHED),
    EventType("abm.score.changed", ScoreChanged, topics.SCORE_CHANGED),
    EventType("psync.push.requested", PushRequested, topics.PUSH_REQUESTS),
    EventType("psync.push.completed", PushCompleted, topics.PUSH_RESULTS),
    EventType("psync.record.applied", RecordApplied, topics.RECORD_RESULTS),
    EventType("psync.audit.recorded", AuditRecorded, topics.AUDIT),
)

_BY_NAME = {t.name: t for t in EVENT_TYPES}


def event_type(name: str) -> EventType:
    """Look an event type up by its CloudEvents `type`; KeyError when unknown."""
    return _BY_NAME[name]


def event_type_of(payload: BaseModel) -> EventType:
    """The event type whose payload model is the payload's class."""
    for candidate in EVENT_TYPES:
        if type(payload) is candidate.payload:
            return candidate
    raise KeyError(f"no event type carries {type(payload).__name__}")


def event_types_on(topic_name: str) -> tuple[EventType, ...]:
    """The event types allowed on one topic."""
    return tuple(t for t in EVENT_TYPES if any(s.name == topic_name for s in t.topics))


def build_event(
    payload: BaseModel,
    *,
    tenant: str,
    subject: str,
    source: str,
    id_parts: tuple[object, ...],
    time: datetime,
    correlationid: str | None = None,
    causationid: str | None = None,
    validate: bool = True,
) -> CloudEvent[BaseModel]:
    """Wrap a payload in its CloudEvent, with an id derived from `id_parts` (stable across replays).

    `validate=False` skips pydantic's checks, for hot paths whose every value comes from events already
    validated (a UTC `time` included); a contract test proves both paths encode the same bytes.
    """
    kind = event_type_of(payload)
    make = kind.envelope if validate else kind.envelope.model_construct
    return make(
        specversion="1.0",
        id=deterministic_event_id(kind.name, tenant, *id_parts),
        source=source,
        type=kind.name,
        time=time,
        subject=subject,
        tenantid=tenant,
        correlationid=correlationid,
        causationid=causationid,
        data=payload,
    )
