"""The topic registry: every Kafka topic of the system, who writes it, who reads it, and how it is kept.

This module is the single source for topic creation (`deploy/local/create_topics.py`), for the
consumers' subscriptions and for the generated documentation. Names, keys and partition counts are part
of the external contract (DESIGN.md section 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

KEYED_PARTITIONS = 12
"""Every keyed topic has the same partition count so that co-partitioned consumers line up."""

DAY_MS = 24 * 60 * 60 * 1000

Compatibility = Literal["BACKWARD", "FORWARD", "FULL", "NONE"]
CleanupPolicy = Literal["delete", "compact"]


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, the event type(s) it carries and how Kafka keeps it."""

    name: str
    event_types: tuple[str, ...]
    key: str
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    partitions: int = KEYED_PARTITIONS
    retention_ms: int = 7 * DAY_MS
    cleanup_policy: CleanupPolicy = "delete"
    compatibility: Compatibility = "BACKWARD"
    external: bool = False
    bulk: bool = False
    """Read by its consumers only when their other topics have nothing waiting: a topic of bulk work (an
    import), whose backlog must never queue ahead of live events (a tenant's import, another's changes)."""
    description: str = ""
    extra_config: dict[str, str] = field(default_factory=dict)

    def kafka_config(self) -> dict[str, str]:
        """Topic-level configuration as Kafka expects it at creation time."""
        config: dict[str, str] = {"cleanup.policy": self.cleanup_policy}
        if self.cleanup_policy == "delete":
            config["retention.ms"] = str(self.retention_ms)
        config.update(self.extra_config)
        return config


SOURCE_CHANGES = TopicSpec(
    name="psync.source-changes.v1",
    event_types=("psync.source.changed",),
    key="tenant:object:pipedrive_id",
    producers=("connector",),
    consumers=("mapper", "pusher"),
    retention_ms=14 * DAY_MS,
    description="A Pipedrive record as read from the API (created, changed, deleted or merged) by a sync,"
    " a webhook or a reconciliation; bulk reads (imports, first syncs, resyncs) travel on"
    " psync.bulk-source-changes.v1.",
)
BULK_SOURCE_CHANGES = TopicSpec(
    name="psync.bulk-source-changes.v1",
    event_types=("psync.source.changed",),
    key="tenant:object:pipedrive_id",
    producers=("connector",),
    consumers=("mapper", "pusher"),
    retention_ms=14 * DAY_MS,
    bulk=True,
    description="A Pipedrive record read in bulk, by an import, a tenant's first sync of an object (its"
    " whole list) or an operator's resync: the events of psync.source-changes.v1 on partitions of their"
    " own, so that one tenant's bulk read never queues ahead of another tenant's live changes (consumers"
    " read it when their other topics have nothing waiting).",
)
SETTINGS = TopicSpec(
    name="psync.settings.v1",
    event_types=("psync.settings.updated",),
    key="tenant",
    producers=("connector",),
    consumers=("mapper", "pusher"),
    cleanup_policy="compact",
    description="The latest sync settings of each tenant (compacted: one live record per tenant).",
    extra_config={"min.cleanable.dirty.ratio": "0.1", "segment.ms": str(DAY_MS)},
)
SYNC_RUNS = TopicSpec(
    name="psync.sync-runs.v1",
    event_types=("psync.run.started", "psync.run.finished"),
    key="tenant:run_id",
    producers=("connector", "mapper", "pusher"),
    consumers=("mapper", "auditlog"),
    retention_ms=30 * DAY_MS,
    description="Start and end of every sync run, import and push batch, with counts and tokens spent"
    " (the mapper reads the connector's ends to report its own apply runs).",
)
COMPANY_REVEALED = TopicSpec(
    name="abm.company-revealed.v1",
    event_types=("abm.company.revealed",),
    key="tenant:organization:domain",
    producers=("visitor-identification platform",),
    consumers=("mapper", "pusher"),
    external=True,
    description="A website visitor's company was identified.",
)
CONTACT_ENRICHED = TopicSpec(
    name="abm.contact-enriched.v1",
    event_types=("abm.contact.enriched",),
    key="tenant:person:email",
    producers=("visitor-identification platform",),
    consumers=("mapper", "pusher"),
    external=True,
    description="A contact was enriched with person data.",
)
SCORE_CHANGED = TopicSpec(
    name="abm.score-changed.v1",
    event_types=("abm.score.changed",),
    key="tenant:organization:domain",
    producers=("visitor-identification platform",),
    consumers=("mapper", "pusher"),
    external=True,
    description="An account's engagement score changed.",
)
PUSH_REQUESTS = TopicSpec(
    name="psync.push-requests.v1",
    event_types=("psync.push.requested",),
    key="tenant:object:match_key",
    producers=("pusher",),
    consumers=("pusher",),
    # Bulk work: a tenant's confirmed push of hundreds of records must not queue ahead of another tenant's
    # reveal, contact or score (their auto-pushes) nor of the mirror's changes.
    bulk=True,
    description="A confirmed manual push of one record into Pipedrive, carrying the full record.",
)
PUSH_RESULTS = TopicSpec(
    name="psync.push-results.v1",
    event_types=("psync.push.completed",),
    key="tenant:object:match_key",
    producers=("pusher",),
    consumers=("mapper", "auditlog"),
    retention_ms=30 * DAY_MS,
    description="The outcome of pushing one record into Pipedrive.",
)
RECORD_RESULTS = TopicSpec(
    name="psync.record-results.v1",
    event_types=("psync.record.applied",),
    key="tenant:object:match_key",
    producers=("mapper",),
    consumers=("auditlog",),
    retention_ms=30 * DAY_MS,
    description="The outcome of applying one Pipedrive record to the ABM store.",
)

AUDIT = TopicSpec(
    name="psync.audit.v1",
    event_types=("psync.audit.recorded",),
    key="tenant",
    producers=("connector",),
    consumers=("auditlog",),
    retention_ms=30 * DAY_MS,
    description="Who changed what of a tenant's integration (settings, connects, disconnects), and when.",
)

EVENT_TOPICS: tuple[TopicSpec, ...] = (
    SOURCE_CHANGES,
    BULK_SOURCE_CHANGES,
    SETTINGS,
    SYNC_RUNS,
    COMPANY_REVEALED,
    CONTACT_ENRICHED,
    SCORE_CHANGED,
    PUSH_REQUESTS,
    PUSH_RESULTS,
    RECORD_RESULTS,
    AUDIT,
)

CONSUMER_SERVICES: tuple[str, ...] = ("mapper", "pusher", "auditlog")
"""The services that consume topics, each with its own dead-letter topic (the connector only produces)."""


def dlq_topic_name(service: str) -> str:
    """The dead-letter topic of one consuming service."""
    return f"psync.{service}.dlq"


def dlq_topic(service: str) -> TopicSpec:
    """The dead-letter topic spec of one consuming service (kept 30 days, keyed by the original key)."""
    return TopicSpec(
        name=dlq_topic_name(service),
        event_types=(),
        key="the original key",
        producers=(service,),
        consumers=("SRE tooling",),
        retention_ms=30 * DAY_MS,
        compatibility="NONE",
        description=f"Messages the {service} could not decode or apply, with their origin in headers.",
    )


ALL_TOPICS: tuple[TopicSpec, ...] = EVENT_TOPICS + tuple(dlq_topic(s) for s in CONSUMER_SERVICES)


def topics_consumed_by(service: str) -> tuple[TopicSpec, ...]:
    """The event topics one service subscribes to."""
    return tuple(t for t in EVENT_TOPICS if service in t.consumers)
