"""The lag gauge skips a partition a rebalance under way took away before its revocation was reported:
the consumer knows no high watermark of it and asking raises, which stopped the consumer loop (seen with
the default two mapper processes joining one group)."""

from __future__ import annotations

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from stream_runner.kafka_runner import KafkaStreamRunner
from stream_runner.metrics import RunnerMetrics
from stream_runner.namespace import TopicNamespace
from stream_runner.processor import MessageProcessor
from tests.unit.stream_runner.test_dead_letter_records import SentMessages

KEPT, TAKEN = TopicPartition("t", 0), TopicPartition("t", 1)


class RebalancingConsumer:
    """Owns only KEPT now; like aiokafka's, refuses the high watermark of a partition it does not own."""

    def assignment(self) -> set[TopicPartition]:
        return {KEPT}

    def highwater(self, partition: TopicPartition) -> int:
        assert partition == KEPT, "Partition is not assigned"
        return 10


async def test_a_partition_no_longer_assigned_is_left_out_of_the_lag() -> None:
    registry = CollectorRegistry()
    processor = MessageProcessor("itest", {}, SentMessages(), RunnerMetrics(registry))
    runner = KafkaStreamRunner(
        bootstrap="127.0.0.1:1", group_id="g", topics=["t"], processor=processor, client_id="itest",
        namespace=TopicNamespace(),
    )  # fmt: skip
    runner._consumer = RebalancingConsumer()
    runner._next_offsets = {KEPT: 4, TAKEN: 2}

    await runner._update_gauges()

    lag = registry.get_sample_value("psync_consumer_lag", {"group": "g", "topic": "t", "partition": "0"})
    assert lag == 6
