"""A batch's messages timed at once count in the histogram as one observation per message would."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Histogram

from stream_runner.metrics import MESSAGE_BUCKETS, MessageSeconds, RunnerMetrics

TOPIC = "psync.source-changes.v1"


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("le", "")): s.value
        for metric in registry.collect()
        if metric.name == "psync_message_seconds"
        for s in metric.samples
        if not s.name.endswith("_created")
    }


@pytest.mark.parametrize("seconds_each", [0.0, 0.0001, 0.0005, 0.0007, 0.001, 0.3, 10.0, 42.0])
def test_messages_timed_at_once_count_as_one_observation_each(seconds_each: float) -> None:
    at_once, one_by_one = CollectorRegistry(), CollectorRegistry()
    metrics = RunnerMetrics(at_once)
    histogram = Histogram(
        MessageSeconds.NAME, MessageSeconds.HELP, ["topic"], registry=one_by_one, buckets=MESSAGE_BUCKETS
    ).labels(TOPIC)

    metrics.observe_messages(TOPIC, seconds_each, 2000)
    metrics.observe_messages(TOPIC, 0.002, 3)
    metrics.observe_messages(TOPIC, 0.04)
    for _ in range(2000):
        histogram.observe(seconds_each)
    for _ in range(3):
        histogram.observe(0.002)
    histogram.observe(0.04)

    counted, observed = _samples(at_once), _samples(one_by_one)
    assert counted.keys() == observed.keys()
    assert len(counted) > 3
    for key, value in observed.items():
        assert counted[key] == pytest.approx(value, rel=1e-9), key
