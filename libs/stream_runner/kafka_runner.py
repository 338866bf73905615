"""The consumer loop of every consuming service (aiokafka): manual, throttled commits of processed offsets.

One loop for the mapper, the pusher and the auditlog. faust-streaming's consumer costs about 75 µs per
message here before any work against about 3 µs for aiokafka (bench-results/faust-consumer-ceiling.json);
faust is kept for stateful stream processing with windowed tables, not as a transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, KafkaError

from schemas.topics import TopicSpec, dlq_topic
from stream_runner.errors import is_transient
from stream_runner.messages import IncomingMessage
from stream_runner.namespace import TopicNamespace
from stream_runner.processor import MessageProcessor, StopRequested
from stream_runner.producer import Delivery

_log = structlog.get_logger(__name__)
_MAX_PENDING_DELIVERIES = 2000
_DLQ_CHECK_INTERVAL_S = 30.0
_DLQ_CHECK_TIMEOUT_S = 10.0
# Of the rebalance timeout, what a revocation leaves for its commit and the rejoin once it stops waiting
# for the batch in flight (beside the heartbeat interval, in which it may hear of the rebalance late).
_REJOIN_MARGIN_S = 5.0
# How often a member tells the group it is alive, and so how late it may hear that a rebalance began (a
# replica joining, one leaving): the other members pause until it rejoins. Kafka's default is 3 s; 1 s costs
# one small request a second per consumer and lets a scale-out or a fresh deployment settle within a second.
_HEARTBEAT_S = 1.0

Batches = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
"""What a poll returned: each partition's records in offset order."""


def incoming_from(record: ConsumerRecord[bytes, bytes], namespace: TopicNamespace) -> IncomingMessage:
    """The runner's form of an aiokafka record (its topic by its logical name)."""
    return incoming_of([record], namespace.logical_topic(record.topic))[0]


def incoming_of(records: Sequence[ConsumerRecord[bytes, bytes]], topic: str) -> list[IncomingMessage]:
    """`incoming_from` of each record of one partition, whose logical topic is `topic` (named once per
    partition, not per record). Built with `tuple.__new__`, skipping the named tuple's own `__new__` (a
    Python function), with every field in order."""
    new = tuple.__new__
    return [
        new(
            IncomingMessage,
            (
                topic,
                r.partition,
                r.offset,
                r.key,
                r.value,
                tuple(r.headers) if r.headers else (),
                r.timestamp,
            ),
        )
        for r in records
    ]


@dataclass
class _BatchInFlight:
    """A poll's records being applied: done once they are (or failed), and whether a revocation gave up
    waiting for them (then they are not recorded as processed: their partitions' next owner takes them)."""

    done: asyncio.Event
    abandoned: bool = False


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: KafkaStreamRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # The batch in flight is finished first, so its offsets are committed with the rest: its
        # partitions' next owner must not apply its events again (an external effect, such as a Pipedrive
        # write, made a second time while or after this replica makes it).
        await self._runner.finish_batch_in_flight()
        try:
            await self._runner.commit_processed()
        except Exception as failure:
            # Outputs not delivered: commit nothing. Every partition is revoked (eager rebalancing), so
            # whoever owns one next starts at its committed offset and processes the rest again.
            _log.warning("commit_on_revoke_failed", error_class=type(failure).__name__)
            self._runner.forget_uncommitted()
        self._runner.forget_lag(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        _log.info("partitions_assigned", count=len(assigned))
        await self._runner.start_lag(assigned)


class KafkaStreamRunner:
    """Consumes topics as one group member, processes in order, commits after the effects.

    `group_id` and `topics` are logical names: the runner joins and reads their cluster names in
    `namespace`, and hands the processor messages named by their logical topics."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        topics: Sequence[str],
        processor: MessageProcessor,
        client_id: str,
        namespace: TopicNamespace,
        commit_interval_s: float = 1.0,
        max_poll_records: int = 200,
        session_timeout_s: float = 10.0,
        group_instance_id: str | None = None,
        max_batch_records: int | None = None,
        batched_topics: Collection[str] = (),
        read_first: Collection[TopicSpec] = (),
        bulk_topics: Collection[str] = (),
        rebalance_timeout_s: float = 60.0,
    ) -> None:
        self._namespace = namespace
        self._topics = [namespace.topic(t) for t in topics]
        # Topics read to their end offsets, as they are at start, before the loop handles any message
        # (a service's settings: a reveal read before its tenant's settings would find auto-push off).
        self._read_first = [
            TopicPartition(namespace.topic(t.name), p) for t in read_first for p in range(t.partitions)
        ]
        self._caught_up = not self._read_first
        # A poll whose records all come from these topics (every event they carry is applied in batches)
        # is topped up, `max_poll_records` at a time, to `max_batch_records`: one transaction for many
        # changes, while a poll holding events applied one at a time (the pusher's pushes, each with
        # Pipedrive calls) still holds at most `max_poll_records` of them.
        self._max_poll_records = max_poll_records
        self._max_batch_records = max(max_batch_records or max_poll_records, max_poll_records)
        self._batched_topics = frozenset(namespace.topic(t) for t in batched_topics)
        # Topics of bulk work (`TopicSpec.bulk`: imports): every other poll takes only the other topics'
        # records when there are any, so a backlog of bulk work delays a live event by at most the batch
        # in flight and one more (on partitions of its own, it never queues behind the backlog), while the
        # bulk work still gets every second poll.
        self._bulk_topics = frozenset(namespace.topic(t) for t in bulk_topics)
        self._live_turn = True
        self._processor = processor
        self._commit_interval_s = commit_interval_s
        self._processed: dict[TopicPartition, int] = {}
        # The first offset processed since the last commit, per partition: where to resume from when
        # the outputs of what was processed since could not be delivered.
        self._uncommitted_from: dict[TopicPartition, int] = {}
        self._outage_s = 0.0
        # Commit (and wait for the outputs' acknowledgements) at the latest after a few polls' worth.
        self._max_pending_deliveries = max(_MAX_PENDING_DELIVERIES, 4 * max_poll_records)
        self._deliveries: list[Delivery] = []
        # One commit at a time: the rebalance listener's commit runs in aiokafka's coordinator task beside
        # the loop's own, and would otherwise commit offsets whose outputs the other is still awaiting.
        self._commit_lock = asyncio.Lock()
        self._last_commit = time.monotonic()
        self._group = group_id
        self._metrics = processor.metrics
        self._dlq = dlq_topic(processor.service)
        # The next offset to process per owned partition, for the lag gauge.
        self._next_offsets: dict[TopicPartition, int] = {}
        self._last_gauges = 0.0
        # Bumped by each revocation: records polled before it are no longer this replica's to apply (the
        # new assignment reads its partitions again from their committed offsets).
        self._generation = 0
        self._in_flight: _BatchInFlight | None = None
        heartbeat_s = min(_HEARTBEAT_S, session_timeout_s / 3)
        # How long a revocation waits for the batch in flight: the group waits for this member's rejoin for
        # up to the rebalance timeout (the other members pause meanwhile).
        rebalance_timeout_s = max(rebalance_timeout_s, session_timeout_s)
        self._batch_wait_s = max(rebalance_timeout_s - heartbeat_s - _REJOIN_MARGIN_S, heartbeat_s)
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=namespace.group(group_id),
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_poll_records=max_poll_records,
            # How long a crashed member keeps its partitions before the group takes them back.
            session_timeout_ms=int(session_timeout_s * 1000),
            heartbeat_interval_ms=int(heartbeat_s * 1000),
            # How long the group waits for its members to rejoin in a rebalance: a member finishes its batch
            # in flight first (a crashed member is let go after its session timeout, not this).
            rebalance_timeout_ms=int(rebalance_timeout_s * 1000),
            # A static member restarted under the same id gets its partitions back without waiting out
            # its crashed predecessor's session (and leaves no group on a clean stop).
            group_instance_id=group_instance_id,
        )

    async def commit_processed(self) -> None:
        """Commit the next offset of every partition whose messages were fully processed.

        First waits for the broker to acknowledge everything those messages produced; a delivery that
        failed raises, so nothing is committed and the worker stops (the restart re-processes them).
        Commits run one at a time (the loop's and the rebalance listener's, which runs in aiokafka's
        coordinator task), and each commits only the offsets taken with the deliveries it awaited: a batch
        the loop processes meanwhile is left, with its deliveries, to the next commit.
        """
        async with self._commit_lock:
            if not self._processed:
                return
            offsets, deliveries, self._deliveries = dict(self._processed), self._deliveries, []
            failed = [
                r
                for r in await asyncio.gather(*deliveries, return_exceptions=True)
                if isinstance(r, BaseException)
            ]
            if failed:
                raise failed[0]
            # While the acknowledgements were awaited, the loop may have processed further (left to the next
            # commit) or forgotten what it had processed (a revocation that failed, a rewind after an outage:
            # those partitions are read again from their committed offsets, and none of them is committed).
            offsets = {p: offset for p, offset in offsets.items() if self._processed.get(p, -1) >= offset}
            for partition, offset in offsets.items():
                if self._processed[partition] == offset:
                    del self._processed[partition]
                    self._uncommitted_from.pop(partition, None)
                else:
                    self._uncommitted_from[partition] = offset
            if not offsets:
                # Nothing left to commit (aiokafka refuses an empty commit with a ValueError, which stopped
                # the consumer loop).
                return
            try:
                await self._consumer.commit(offsets)
            except (CommitFailedError, KafkaError) as exc:
                # The group moved on (rebalance); the new owner re-reads them and the inbox drops repeats.
                _log.warning("commit_failed", error=str(exc), partitions=len(offsets))
            self._last_commit = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; then commit what was processed and leave the group."""
        self._consumer.subscribe(topics=self._topics, listener=_CommitOnRevoke(self))
        # The topics read first are read while the group member starts and joins its group; it polls only
        # once they are.
        catch_up = None if self._caught_up else asyncio.create_task(self._catch_up(stop), name="read_first")
        try:
            await self._consumer.start()
        except BaseException:
            if catch_up is not None:
                catch_up.cancel()
                with contextlib.suppress(BaseException):
                    await catch_up
            raise
        dlq_watch = asyncio.create_task(self._watch_dlq(stop), name="dlq_depth")
        try:
            if catch_up is not None:
                await catch_up
            while not stop.is_set():
                try:
                    await self._poll_once(stop)
                except Exception as failure:
                    if not is_transient(failure):
                        raise
                    await self._wait_out(failure, stop)
        finally:
            try:
                await self._commit_or_leave_for_redelivery()
            finally:
                dlq_watch.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await dlq_watch
                await self._consumer.stop()
                _log.info("consumer_stopped")

    @property
    def caught_up(self) -> bool:
        """Whether the topics read first were read to the end offsets they had at start (or none is)."""
        return self._caught_up

    async def check_caught_up(self) -> None:
        """A readiness check: raises until the topics read first are read."""
        if not self._caught_up:
            raise RuntimeError("the topics read first are not read to their end yet")

    async def _catch_up(self, stop: asyncio.Event) -> None:
        """Read the topics read first from their beginning to their end offsets at start (every partition,
        by a group-less client of its own) and apply them (`MessageProcessor.catch_up`); the loop reads
        them again from the group's committed offsets (their handlers keep only what is newer)."""
        started = time.perf_counter()
        # From the beginning (`auto_offset_reset` too: its reset of an assigned partition and the seek's may
        # race, and one to the end would skip the partition).
        reader = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        read = 0
        try:
            await reader.start()
            partitions = self._read_first
            reader.assign(partitions)
            ends = await reader.end_offsets(partitions)
            await reader.seek_to_beginning(*partitions)
            left = {p for p in partitions if await reader.position(p) < ends[p]}
            while left and not stop.is_set():
                batches = await reader.getmany(*left, timeout_ms=200, max_records=self._max_batch_records)
                records = [r for p, found in batches.items() for r in found if r.offset < ends[p]]
                if records:
                    messages = [incoming_from(r, self._namespace) for r in records]
                    with contextlib.suppress(StopRequested):
                        # What they produced is delivered before the loop goes on (a failure raises).
                        await asyncio.gather(*await self._processor.catch_up(messages, stop))
                    read += len(records)
                left = {p for p in left if await reader.position(p) < ends[p]}
        finally:
            with contextlib.suppress(KafkaError):
                await reader.stop()
        if not stop.is_set():
            self._caught_up = True
        _log.info(
            "read_first",
            topics=sorted({self._logical(p) for p in self._read_first}),
            records=read,
            caught_up=self._caught_up,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    async def _poll_once(self, stop: asyncio.Event) -> None:
        batches = await self._poll()
        generation = self._generation  # of the records just returned (no await since)
        batches, generation = await self._top_up(batches, generation)
        with contextlib.suppress(StopRequested):
            await self._process_batches(batches, stop, generation)
        await self._update_gauges()
        due = time.monotonic() - self._last_commit >= self._commit_interval_s
        if due or len(self._deliveries) >= self._max_pending_deliveries:
            await self.commit_processed()
        self._outage_s = 0.0

    async def _poll(self) -> Batches:
        """What the consumer holds, waiting up to 300 ms for something: on the live topics' turn, their
        records alone when they have any (a poll without records of theirs hands the turn on)."""
        if self._bulk_topics and self._live_turn:
            live = [p for p in self._consumer.assignment() if p.topic not in self._bulk_topics]
            batches: Batches = await self._consumer.getmany(*live, timeout_ms=0) if live else {}
            if batches:
                self._live_turn = False
                return batches
        self._live_turn = True
        polled: Batches = await self._consumer.getmany(timeout_ms=300)
        return polled

    async def _top_up(self, batches: Batches, generation: int) -> tuple[Batches, int]:
        """Add what the consumer already holds to a poll of batched topics only, `max_poll_records` at a
        time, until `max_batch_records` or a part with another topic's records (that part is kept: it
        holds at most `max_poll_records` of them). Each partition's records stay in offset order. Returns
        the batch and the generation its records were polled in.

        A fetch that fails while topping up ends it: the records already polled are applied (the
        consumer's position is past them, and a partition with nothing processed since its last commit
        is not rewound by `_wait_out`), and the failure is met again by the next poll. A fetch that
        returns after a rebalance (it waits for the new assignment) replaces what was polled before it:
        those partitions are read again from their committed offsets by whoever owns them now."""
        if self._max_batch_records <= self._max_poll_records:
            return batches, generation  # a poll is already as large as a batch may be
        size = sum(len(records) for records in batches.values())
        while size and self._batched_only(batches):
            room = self._max_batch_records - size
            if room <= 0:
                break
            asked = min(room, self._max_poll_records)
            try:
                more = await self._consumer.getmany(timeout_ms=0, max_records=asked)
            except KafkaError as failure:
                _log.warning("top_up_stopped", error_class=type(failure).__name__, error=str(failure)[:300])
                break
            if self._generation != generation:
                return more, self._generation
            if not more:
                break
            for partition, records in more.items():
                batches.setdefault(partition, []).extend(records)
                size += len(records)
        return batches, generation

    def _batched_only(self, batches: Batches) -> bool:
        return all(partition.topic in self._batched_topics for partition, found in batches.items() if found)

    async def _wait_out(self, failure: Exception, stop: asyncio.Event) -> None:
        """The broker (or the database behind a handler) is away: what was processed since the last
        commit is consumed again once it is back (its effects are in the inbox, which re-sends their
        saved outputs), so nothing whose outputs were not delivered is ever committed."""
        self._outage_s = min(max(self._outage_s * 2, 0.5), 10.0)
        _log.warning(
            "consumer_waiting",
            error_class=type(failure).__name__,
            error=str(failure)[:300],
            retry_in_s=self._outage_s,
            rewound_partitions=len(self._uncommitted_from),
        )
        self._rewind_uncommitted()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self._outage_s)

    def forget_uncommitted(self) -> None:
        """Drop what was processed but not committed (its partitions are taken up from their committed
        offsets again)."""
        self._uncommitted_from, self._processed, self._deliveries = {}, {}, []

    def _rewind_uncommitted(self) -> None:
        """Forget the outputs in flight and seek back to the first uncommitted offset of each partition."""
        assigned = self._consumer.assignment()
        for partition, offset in self._uncommitted_from.items():
            if partition in assigned:
                self._consumer.seek(partition, offset)
                self._next_offsets[partition] = offset
        self.forget_uncommitted()

    async def _commit_or_leave_for_redelivery(self) -> None:
        """On the way out: commit what was delivered; what was not is left for the next owner."""
        try:
            await self.commit_processed()
        except Exception as failure:
            if not is_transient(failure):
                raise
            _log.warning("final_commit_skipped", error_class=type(failure).__name__, error=str(failure)[:300])

    async def _process_batches(self, batches: Batches, stop: asyncio.Event, generation: int) -> None:
        """Process one poll's records of every partition as one batch (each partition's in order), so
        a batch handler gets up to `max_poll_records` changes per transaction, not one partition's share.
        Records polled in an earlier `generation` than the current one (before a revocation) are not
        this replica's to apply any more and are left.
        """
        if generation != self._generation:
            return
        messages = [
            message
            for partition, records in batches.items()
            if records
            for message in incoming_of(records, self._logical(partition))
        ]
        if stop.is_set() or not messages:
            return
        batch = self._in_flight = _BatchInFlight(asyncio.Event())
        try:
            results = await self._processor.process_batch(messages, stop)
            deliveries = self._deliveries
            for processed in results:
                if processed.deliveries:
                    deliveries.extend(processed.deliveries)
            if not batch.abandoned:
                self._record_processed(batches)
        finally:
            self._in_flight = None
            batch.done.set()

    async def finish_batch_in_flight(self) -> None:
        """Wait (as a revocation does, within the rebalance timeout) until the batch being applied is
        done and recorded for commit; one not done by then is abandoned: its offsets are not recorded,
        and its partitions' next owner applies its events again (the inbox drops those applied here)."""
        self._generation += 1
        batch = self._in_flight
        if batch is None:
            return
        try:
            await asyncio.wait_for(batch.done.wait(), self._batch_wait_s)
        except TimeoutError:
            batch.abandoned = True
            _log.warning("batch_abandoned_on_revoke", waited_s=self._batch_wait_s)

    def _record_processed(self, batches: Batches) -> None:
        """Take a batch's offsets for the next commit, and for the lag. A rebalance may have taken
        partitions away while the batch was applied (its revocation did not wait for it): their new owner
        resumes at their committed offsets, so this replica records, commits and reports only what it still
        owns."""
        owned = self._consumer.assignment()
        for partition, partition_records in batches.items():
            if partition_records and partition in owned:
                self._uncommitted_from.setdefault(partition, partition_records[0].offset)
                self._processed[partition] = partition_records[-1].offset + 1
                self._next_offsets[partition] = partition_records[-1].offset + 1

    async def start_lag(self, assigned: list[TopicPartition]) -> None:
        """Start the lag of newly owned partitions at the group's committed offsets, asked for all at once
        (aiokafka fetches the committed offsets its partitions wait for in one request; one partition at a
        time took a round trip each). A partition whose offset cannot be read has no lag until polled."""
        partitions = list(assigned)
        found = await asyncio.gather(*map(self._consumer.committed, partitions), return_exceptions=True)
        for partition, committed in zip(partitions, found, strict=True):
            if isinstance(committed, KafkaError):
                continue
            if isinstance(committed, BaseException):
                raise committed
            self._next_offsets[partition] = committed or 0

    def forget_lag(self, revoked: list[TopicPartition]) -> None:
        """Stop reporting partitions this replica no longer owns (their new owner reports them)."""
        for partition in revoked:
            self._next_offsets.pop(partition, None)
            with contextlib.suppress(KeyError):
                self._metrics.lag.remove(self._group, self._logical(partition), str(partition.partition))

    async def _update_gauges(self) -> None:
        """At most once a second, the lag of the owned partitions (from the high watermarks the fetches
        bring back). A partition a rebalance under way took away is skipped: the consumer knows no high
        watermark of it (asking raises), and its lag is forgotten once the revocation is reported."""
        now = time.monotonic()
        if now - self._last_gauges < 1.0:
            return
        self._last_gauges = now
        assigned = self._consumer.assignment()
        for partition, next_offset in self._next_offsets.items():
            if partition not in assigned:
                continue
            highwater = self._consumer.highwater(partition)
            if highwater is not None:
                lag = max(highwater - next_offset, 0)
                self._metrics.lag.labels(self._group, self._logical(partition), str(partition.partition)).set(
                    lag
                )

    def _logical(self, partition: TopicPartition) -> str:
        """The logical name of an owned partition's topic (what the metrics are labelled with)."""
        return self._namespace.logical_topic(partition.topic)

    async def _watch_dlq(self, stop: asyncio.Event) -> None:
        """Every 30 s until `stop`, the depth of the service's dead-letter topic, read by a group-less
        client of its own (the group member's metadata covers only the topics it consumes)."""
        reader = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
        dlq = self._namespace.topic(self._dlq.name)
        partitions = [TopicPartition(dlq, p) for p in range(self._dlq.partitions)]
        try:
            await asyncio.wait_for(reader.start(), _DLQ_CHECK_TIMEOUT_S)
            while not stop.is_set():
                try:
                    ends = await asyncio.wait_for(reader.end_offsets(partitions), _DLQ_CHECK_TIMEOUT_S)
                    starts = await asyncio.wait_for(
                        reader.beginning_offsets(partitions), _DLQ_CHECK_TIMEOUT_S
                    )
                    depth = sum(ends[p] - starts[p] for p in partitions)
                    self._metrics.dlq_depth.labels(self._dlq.name).set(depth)
                except (KafkaError, TimeoutError) as failure:
                    _log.warning("dlq_depth_unavailable", topic=self._dlq.name, error=repr(failure))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), _DLQ_CHECK_INTERVAL_S)
        except (KafkaError, TimeoutError) as failure:
            _log.warning("dlq_depth_unavailable", topic=self._dlq.name, error=repr(failure))
        finally:
            with contextlib.suppress(asyncio.CancelledError, KafkaError):
                await reader.stop()
