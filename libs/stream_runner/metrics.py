"""Prometheus metrics of message processing, registered on the service's own registry."""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

_bucket_label: Callable[[float], str] = floatToGoString
"""A bucket's `le` as prometheus_client's Histogram writes it ("0.0005", "+Inf"); its module is untyped."""

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
        self.seconds = MessageSeconds(registry)
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

    def observe_messages(self, topic: str, seconds_each: float, count: int = 1) -> None:
        """Time `count` messages that took `seconds_each` on average (one observation per message)."""
        self.seconds.observe(topic, seconds_each, count)


class MessageSeconds(Collector):
    """`psync_message_seconds{topic}`: a Prometheus histogram of the time to process one message that
    counts the messages of a batch at once, each at the batch's average.

    What `count` calls of `Histogram.observe` would count (tests/unit/stream_runner/test_metrics.py
    compares the two), at the cost of one call per batch (under 1 µs of CPU) instead of one per message
    (1 to 1.4 µs each, 2 ms for a batch of 2,000), on prometheus_client's public collector API
    (`Collector`, `HistogramMetricFamily`) rather than a Histogram's private fields.
    """

    NAME = "psync_message_seconds"
    HELP = "Time to process one message, effects included (a batch's messages each count its average)"

    def __init__(self, registry: CollectorRegistry, buckets: Sequence[float] = MESSAGE_BUCKETS) -> None:
        self._bounds = (*buckets, math.inf)
        self._lock = threading.Lock()  # the exposition may read from another thread
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}
        registry.register(self)

    def observe(self, topic: str, seconds: float, count: int = 1) -> None:
        """Count `count` messages of `topic` that took `seconds` each."""
        bucket = bisect.bisect_left(self._bounds, seconds)  # the first bound at or above, as Histogram
        with self._lock:
            counts = self._counts.get(topic)
            if counts is None:
                counts = self._counts[topic] = [0] * len(self._bounds)
            counts[bucket] += count
            self._sums[topic] = self._sums.get(topic, 0.0) + seconds * count

    def describe(self) -> Iterator[HistogramMetricFamily]:
        """The metric's name and type, for the registry's check of duplicate names."""
        yield HistogramMetricFamily(self.NAME, self.HELP, labels=["topic"])

    def collect(self) -> Iterator[HistogramMetricFamily]:
        """The cumulative buckets, count and sum of each topic."""
        with self._lock:
            rows = [(topic, list(counts), self._sums[topic]) for topic, counts in self._counts.items()]
        family = HistogramMetricFamily(self.NAME, self.HELP, labels=["topic"])
        bounds = [_bucket_label(bound) for bound in self._bounds]
        for topic, counts, total in rows:
            family.add_metric(
                [topic], list(zip(bounds, map(float, itertools.accumulate(counts)), strict=True)), total
            )
        yield family
