"""The deployment's topic namespace: logical topic and group names (the registry's, schemas.topics) mapped to
the names on the cluster, at the Kafka edge only.

One setting, `PSYNC_TOPIC_PREFIX` (empty by default: the cluster's names are the registry's), puts every
topic and consumer group of a deployment under a prefix, so several deployments (two test stacks, say)
share one Kafka without seeing each other's events. Everything above the edge (handlers, the registry,
dead-letter origin headers, metrics) keeps the logical names; producers, consumers, admin clients and
faust's topics translate with `topic`/`group` on the way out and `logical_topic` on the way in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

TOPIC_PREFIX_ENV = "PSYNC_TOPIC_PREFIX"

_PREFIX = re.compile(r"[A-Za-z0-9._-]{0,100}")
"""Kafka allows these characters in topic names (249 at most); a prefix leaves room for the name."""


def check_prefix(prefix: str) -> str:
    """The prefix when Kafka accepts it in front of a topic name; ValueError says why not."""
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"a topic prefix is at most 100 of A-Z a-z 0-9 . _ - (got {prefix!r})")
    return prefix


@dataclass(frozen=True)
class TopicNamespace:
    """Where a deployment's topics and consumer groups live on the cluster."""

    prefix: str = ""

    def __post_init__(self) -> None:
        check_prefix(self.prefix)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> TopicNamespace:
        """The namespace `PSYNC_TOPIC_PREFIX` names (the registry's own names when it is unset or empty)."""
        return cls(environ.get(TOPIC_PREFIX_ENV, ""))

    def topic(self, logical: str) -> str:
        """The cluster's name of a logical topic."""
        return self.prefix + logical

    def group(self, logical: str) -> str:
        """The cluster's name of a logical consumer group (faust app ids included)."""
        return self.prefix + logical

    def owns(self, physical: str) -> bool:
        """Whether a cluster name (topic or group) belongs to this namespace."""
        return physical.startswith(self.prefix)

    def logical_topic(self, physical: str) -> str:
        """The logical name of one of this namespace's topics; ValueError for another namespace's."""
        if not self.owns(physical):
            raise ValueError(f"topic {physical!r} is outside the namespace {self.prefix!r}")
        return physical[len(self.prefix) :]

    def logical_group(self, physical: str) -> str:
        """The logical name of one of this namespace's groups; ValueError for another namespace's."""
        if not self.owns(physical):
            raise ValueError(f"group {physical!r} is outside the namespace {self.prefix!r}")
        return physical[len(self.prefix) :]
