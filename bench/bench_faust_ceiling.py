"""Benchmark: what consuming alone costs per message, with faust-streaming and with aiokafka.

100,000 messages the size of a source change go to a scratch topic (12 partitions, deleted afterwards);
then a faust app whose one agent does nothing with each event (acknowledged as the loop moves on), and
an aiokafka consumer that does nothing with each `getmany` batch, each read them
all on a fresh group. The figures bound any faust service on this machine: a mapper on faust cannot apply
faster than its transport delivers with no work at all. Writes `bench-results/faust-consumer-ceiling.json`.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import uuid
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from report import write_report

MESSAGES = int(os.environ.get("BENCH_CEILING_MESSAGES", "100000"))
VALUE_BYTES = 490  # a bench source change encodes to about this size
PARTITIONS = 12
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092")


async def fill(topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=20, max_batch_size=262144)
    await producer.start()
    try:
        value = b"x" * VALUE_BYTES
        sent = [await producer.send(topic, value, key=str(n).encode()) for n in range(MESSAGES)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def read_with_aiokafka(topic: str) -> float:
    """Seconds from the first batch to the last message, doing nothing with them."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        group_id=f"ceiling-aiokafka-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    await consumer.start()
    try:
        seen, first = 0, 0.0
        while seen < MESSAGES:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                first = first or time.perf_counter()
                seen += len(records)
        return time.perf_counter() - first
    finally:
        await consumer.stop()


async def read_with_faust(topic: str, data_dir: str) -> float:
    """Seconds from the first event to the last, for an agent that does nothing with each event."""
    app = faust.App(
        f"ceiling-faust-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{BOOTSTRAP}",
        web_enabled=False,
        datadir=data_dir,
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        topic_disable_leader=True,
    )
    seen, first = 0, 0.0
    done = asyncio.Event()

    async def do_nothing(stream: Any) -> None:
        nonlocal seen, first
        async for _event in stream.events():  # faust acknowledges each event as the loop moves on
            first = first or time.perf_counter()
            seen += 1
            if seen >= MESSAGES:
                done.set()

    app.agent(app.topic(topic, key_type=bytes, value_type=bytes), name="ceiling")(do_nothing)
    await app.start()
    try:
        await asyncio.wait_for(done.wait(), 600)
        return time.perf_counter() - first
    finally:
        await app.stop()


async def run() -> dict[str, object]:
    topic = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        await fill(topic)
        with tempfile.TemporaryDirectory() as data_dir:
            faust_s = await read_with_faust(topic, data_dir)
        aiokafka_s = await read_with_aiokafka(topic)
    finally:
        await admin.delete_topics([topic])
        await admin.close()
    return {
        "benchmark": "faust-consumer-ceiling",
        "messages": MESSAGES,
        "value_bytes": VALUE_BYTES,
        "partitions": PARTITIONS,
        "faust_messages_per_second": round(MESSAGES / faust_s),
        "faust_microseconds_per_message": round(faust_s / MESSAGES * 1e6, 1),
        "aiokafka_messages_per_second": round(MESSAGES / aiokafka_s),
        "aiokafka_microseconds_per_message": round(aiokafka_s / MESSAGES * 1e6, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "note": "Consumers that do nothing with what they read: the ceiling of any service on each transport"
        " on this machine. faust-streaming's consumer hands every message to the stream through"
        " Consumer._drain_messages, which awaits Service.wait_first (four tasks) per message.",
    }


def main() -> None:
    """Run the benchmark and write its JSON result."""
    write_report("faust-consumer-ceiling", asyncio.run(run()))


if __name__ == "__main__":
    main()
