"""The settings every service shares; each service subclasses it with its own env prefix.

Kafka and PostgreSQL addresses are read from the unprefixed `KAFKA_BOOTSTRAP` and `DATABASE_URL`, and the
deployment's topic namespace from `PSYNC_TOPIC_PREFIX`, so one environment points every service (and the
tests) at the same infrastructure. Everything else is read
with the service's prefix, e.g. `AUDITLOG_HTTP_PORT`.
"""

from __future__ import annotations

import sys
from typing import Self, TypeVar

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from service_runtime.secret_keys import LOCAL_MODE_ENV
from stream_runner.namespace import TOPIC_PREFIX_ENV, TopicNamespace

S = TypeVar("S", bound=BaseSettings)


def settings_from_environment(settings_class: type[S]) -> S:
    """A service's settings read from its environment; when one cannot be used, the process says which
    and why on standard error and exits with status 2 (it refuses to start)."""
    try:
        return settings_class()
    except ValidationError as invalid:
        for error in invalid.errors():
            where = ".".join(str(part) for part in error["loc"]) or invalid.title
            print(f"{where}: {error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


DEDUPE_WINDOW_S = 35 * 86_400.0
"""The default window of inboxes: the longest topic retention (30 days) and five days to spare."""


class KafkaSettings(BaseSettings):
    """Where the cluster is and the deployment's topic namespace on it (services and psyncctl alike)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap: str = Field(default="127.0.0.1:19092", validation_alias="KAFKA_BOOTSTRAP")
    topic_prefix: str = Field(
        default="",
        validation_alias=TOPIC_PREFIX_ENV,
        description="Put before every topic and consumer group name on the cluster (empty: the registry's"
        " names), so deployments sharing one Kafka never see each other's events (docs/operations.md).",
    )

    _topic_namespace: TopicNamespace = PrivateAttr()

    @model_validator(mode="after")
    def _namespace_of_prefix(self) -> Self:
        """The namespace, built (its prefix checked) once, as the settings are read: a prefix Kafka would
        refuse is a validation error of the settings."""
        self._topic_namespace = TopicNamespace(self.topic_prefix)
        return self

    @property
    def topic_namespace(self) -> TopicNamespace:
        """Where this deployment's topics and consumer groups are on the cluster."""
        return self._topic_namespace


class ServiceSettings(KafkaSettings):
    """Infrastructure addresses and the HTTP listener of one service process."""

    database_url: SecretStr = Field(
        default=SecretStr("postgresql://psync:psync@127.0.0.1:55432/psync"), validation_alias="DATABASE_URL"
    )
    db_schema: str = Field(description="The service's own PostgreSQL schema.")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool | None = None
    commit_interval_s: float = Field(default=1.0, gt=0)
    db_pool_size: int = Field(
        default=10,
        ge=1,
        le=200,
        description="Most PostgreSQL connections one replica opens; N replicas open up to N times this"
        " (docs/operations.md: sizing, PgBouncer).",
    )
    start_deadline_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a starting process waits for PostgreSQL, then for Kafka, when it cannot reach"
        " them (it logs `dependency_not_reachable_yet` meanwhile); then it exits with status 1 and a"
        " `start_failed` line naming DATABASE_URL or KAFKA_BOOTSTRAP.",
    )
    data_dir: str = Field(
        default=".state/data", description="Local scratch state (the data folder of faust tables)."
    )
    dedupe_window_s: float = Field(
        default=DEDUPE_WINDOW_S,
        gt=0,
        description="How long applied event ids are remembered (inboxes and the like): longer than the"
        " retention of every topic (30 days at most), so a replay from the oldest offset is still"
        " recognized.",
    )
    prune_every_s: float = Field(default=600.0, gt=0, description="How often expired rows are deleted.")
    local_mode: bool = Field(
        default=False,
        validation_alias=LOCAL_MODE_ENV,
        description="A developer's machine: public development keys are allowed (with a warning at start).",
    )


class StreamServiceSettings(ServiceSettings):
    """A service that consumes Kafka with the stream runner (the mapper, the pusher, the auditlog)."""

    group_id: str = Field(description="The consumer group of the service's replicas.")
    max_batch: int = Field(
        default=2000,
        ge=1,
        le=10_000,
        description="At most this many consecutive events applied per transaction.",
    )
    poll_records: int | None = Field(
        default=None,
        ge=1,
        le=10_000,
        description="At most this many messages fetched per poll (None: max_batch). A poll whose messages"
        " all come from topics applied in batches is topped up, this many at a time, to max_batch.",
    )
    session_timeout_s: float = Field(
        default=60.0,
        ge=6.0,
        description="Kafka group session: how long a crashed replica keeps its partitions.",
    )
    group_instance_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=249,
        description="Static group membership (Kafka's group.instance.id), one per replica, e.g. a"
        " StatefulSet pod's name: a replica restarted under the same id takes its partitions back at once"
        " instead of after the session timeout; a replica stopped for good keeps them until then. None:"
        " dynamic membership.",
    )
