"""The consumer loop of every consuming service (aiokafka): manual, throttled commits of processed offsets.

One loop for the mapper, the pusher and the auditlog. faust-streaming's consumer costs about 75 µs per
message here before any work against about 3 µs for aiokafka (bench-results/faust-consumer-ceiling.json);
faust is kept for stateful stream processing with windowed tables, not as a transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, KafkaError

from stream_runner.messages import IncomingMessage
from stream_runner.processor import MessageProcessor, StopRequested
from stream_runner.producer import Delivery

_log = structlog.get_logger(__name__)
_MAX_PENDING_DELIVERIES = 2000


def incoming_from(record: ConsumerRecord[bytes, bytes]) -> IncomingMessage:
    """The runner's form of an aiokafka record."""
    return IncomingMessage(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
        timestamp_ms=record.timestamp,
    )


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: KafkaStreamRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._runner.commit_processed()

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        _log.info("partitions_assigned", count=len(assigned))


class KafkaStreamRunner:
    """Consumes topics as one group member, processes in order, commits after the effects."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        topics: Sequence[str],
        processor: MessageProcessor,
        client_id: str,
        commit_interval_s: float = 1.0,
        max_poll_records: int = 200,
        session_timeout_s: float = 10.0,
    ) -> None:
        self._topics = list(topics)
        self._processor = processor
        self._commit_interval_s = commit_interval_s
        self._processed: dict[TopicPartition, int] = {}
        # Commit (and wait for the outputs' acknowledgements) at the latest after a few polls' worth.
        self._max_pending_deliveries = max(_MAX_PENDING_DELIVERIES, 4 * max_poll_records)
        self._deliveries: list[Delivery] = []
        self._last_commit = time.monotonic()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_poll_records=max_poll_records,
            # How long a crashed member keeps its partitions before the group takes them back.
            session_timeout_ms=int(session_timeout_s * 1000),
            heartbeat_interval_ms=int(min(3.0, session_timeout_s / 3) * 1000),
        )

    async def commit_processed(self) -> None:
        """Commit the next offset of every partition whose messages were fully processed.

        First waits for the broker to acknowledge everything those messages produced; a delivery that
        failed raises, so nothing is committed and the worker stops (the restart re-processes them).
        """
        if not self._processed:
            return
        deliveries, self._deliveries = self._deliveries, []
        await asyncio.gather(*deliveries)
        offsets, self._processed = self._processed, {}
        try:
            await self._consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # The group moved on (rebalance); the new owner re-reads them and the inbox drops repeats.
            _log.warning("commit_failed", error=str(exc), partitions=len(offsets))
        self._last_commit = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; then commit what was processed and leave the group."""
        self._consumer.subscribe(topics=self._topics, listener=_CommitOnRevoke(self))
        await self._consumer.start()
        try:
            while not stop.is_set():
                batches = await self._consumer.getmany(timeout_ms=300)
                with contextlib.suppress(StopRequested):
                    await self._process_batches(batches, stop)
                due = time.monotonic() - self._last_commit >= self._commit_interval_s
                if due or len(self._deliveries) >= self._max_pending_deliveries:
                    await self.commit_processed()
        finally:
            try:
                await self.commit_processed()
            finally:
                await self._consumer.stop()
                _log.info("consumer_stopped")

    async def _process_batches(
        self, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]], stop: asyncio.Event
    ) -> None:
        """Process one poll's records of every partition as one batch (each partition's in order), so
        a batch handler gets up to `max_poll_records` changes per transaction, not one partition's share.
        """
        records = [r for partition_records in batches.values() for r in partition_records]
        if stop.is_set() or not records:
            return
        results = await self._processor.process_batch([incoming_from(r) for r in records], stop)
        for processed in results:
            self._deliveries.extend(processed.deliveries)
        for partition, partition_records in batches.items():
            if partition_records:
                self._processed[partition] = partition_records[-1].offset + 1
