"""Prometheus metrics of message processing, registered on the service's own registry."""

from __future__ import annotations

import bisect

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Per message: from a few hundred microseconds (a duplicate) to seconds (a Pipedrive write).
MESSAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RunnerMetrics:
    """Counts messages per topic and outcome, times their processing, and reports the consumer's lag and
    the depth of the service's dead-letter topic."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "psync_messages_total",
            "Messages processed, by topic and outcome",
            ["topic", "outcome"],
            registry=registry,
        )
        self.seconds = Histogram(
            "psync_message_seconds",
            "Time to process one message, effects included (a batch's messages each count its average)",
            ["topic"],
            registry=registry,
            buckets=MESSAGE_BUCKETS,
        )
        self.retries = Counter(
            "psync_message_retries_total",
            "Retries of a message after a transient failure",
            ["topic"],
            registry=registry,
        )
        self.lag = Gauge(
            "psync_consumer_lag",
            "Messages in a partition this replica owns that it has not processed yet (high watermark minus"
            " the next offset to process)",
            ["group", "topic", "partition"],
            registry=registry,
        )
        self.dlq_depth = Gauge(
            "psync_dlq_messages",
            "Messages retained in the service's dead-letter topic (all partitions)",
            ["topic"],
            registry=registry,
        )

    def observe_messages(self, topic: str, seconds_each: float, count: int) -> None:
        """Time `count` messages that took `seconds_each` on average (one observation per message).

        Counted at once in the histogram's bucket and sum: what `count` calls of `observe` would count
        (tests/unit/stream_runner/test_metrics.py compares the two), without a call per message of a
        batch of thousands.
        """
        child = self.seconds.labels(topic)
        bucket = bisect.bisect_left(child._upper_bounds, seconds_each)
        child._sum.inc(seconds_each * count)
        child._buckets[bucket].inc(count)
