"""Prometheus metrics of message processing, registered on the service's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class RunnerMetrics:
    """Counts messages per topic and outcome, and times their processing."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "psync_messages_total",
            "Messages processed, by topic and outcome",
            ["topic", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "psync_message_seconds",
            "Time to process one message, effects included",
            ["topic"],
            registry=registry,
        )
        self.retries = Counter(
            "psync_message_retries_total",
            "Retries of a message after a transient failure",
            ["topic"],
            registry=registry,
        )
