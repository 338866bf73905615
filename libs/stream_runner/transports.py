"""The consumer a stream-processing service runs on, picked by its settings: faust or aiokafka.

Both apply the same `MessageProcessor`, hand batch handlers what has arrived (up to `max_batch`), and
commit offsets only after the effects and the outputs' acknowledgements. faust-streaming costs about
75 µs per message before any work here, aiokafka about 3 µs (bench-results/faust-consumer-ceiling.json).
Every member of a group must use the same one: they assign partitions with different assignors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from stream_runner.faust_runner import FaustStreamRunner
from stream_runner.kafka_runner import KafkaStreamRunner
from stream_runner.processor import MessageProcessor

Transport = Literal["faust", "aiokafka"]


def build_stream_runner(
    transport: Transport,
    *,
    service: str,
    group_id: str,
    bootstrap: str,
    topics: Sequence[str],
    processor: MessageProcessor,
    commit_interval_s: float,
    session_timeout_s: float,
    max_batch: int,
    data_dir: str,
) -> FaustStreamRunner | KafkaStreamRunner:
    """The runner `transport` names, consuming `topics` as a member of `group_id`."""
    if transport == "aiokafka":
        return KafkaStreamRunner(
            bootstrap=bootstrap,
            group_id=group_id,
            topics=topics,
            processor=processor,
            client_id=service,
            commit_interval_s=commit_interval_s,
            max_poll_records=max_batch,
            session_timeout_s=session_timeout_s,
        )
    return FaustStreamRunner(
        app_id=group_id,
        bootstrap=bootstrap,
        topics=topics,
        processor=processor,
        commit_interval_s=commit_interval_s,
        data_dir=f"{data_dir}/{group_id}",
        session_timeout_s=session_timeout_s,
        max_batch=max_batch,
    )
