"""Everything a private stack wrote, read back as bytes per place, so a scenario can count what it holds:
the services' log files, every row of every table, every message of every topic (keys, values,
headers), and every file under a server's state folder (Kafka's segments and logs, PostgreSQL's data,
WAL and log)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.topic_namespace import NAMESPACE

SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


def files_under(roots: Iterable[Path], pattern: str = "*") -> list[Path]:
    """Every regular file matching `pattern` under the roots."""
    return sorted(f for root in roots for f in root.rglob(pattern) if f.is_file())


async def occurrences_in_files(files: list[Path], needles: list[bytes]) -> dict[bytes, int]:
    """How often each needle occurs in the files' bytes (a file read once)."""

    def count() -> dict[bytes, int]:
        found = dict.fromkeys(needles, 0)
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:  # removed meanwhile (a rolled segment, a temporary file)
                continue
            for needle in needles:
                found[needle] += data.count(needle)
        return found

    return await asyncio.to_thread(count)


async def every_row(pool: asyncpg.Pool) -> tuple[int, bytes]:
    """(rows, their text) of every table of every schema outside PostgreSQL's own."""
    tables = await pool.fetch(
        "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_type = 'BASE TABLE' AND NOT (table_schema = ANY($1::text[]))",
        list(SYSTEM_SCHEMAS),
    )
    rows: list[str] = []
    for table in tables:
        name = f'"{table["table_schema"]}"."{table["table_name"]}"'
        rows.extend(r[0] for r in await pool.fetch(f"SELECT t::text FROM {name} t"))
    return len(rows), "\n".join(rows).encode()


def _logical(topic: str) -> str:
    """The registry's name of a topic of the tests' namespace (other topics by their own names)."""
    return NAMESPACE.logical_topic(topic) if NAMESPACE.owns(topic) else topic


async def every_partition(bootstrap: str) -> list[TopicPartition]:
    """Every partition of every topic on the cluster but Kafka's own (searched as files)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if not name.startswith("__")]
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    return [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]


async def every_message(bootstrap: str) -> tuple[int, bytes]:
    """(messages, their keys, values and headers) of every topic, from the beginning to the end."""
    partitions = await every_partition(bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        chunks: list[bytes] = []
        count = 0
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=2000)
                for message in batch.get(tp, []):
                    count += 1
                    chunks.extend((message.key or b"", message.value or b""))
                    chunks.extend(name.encode() + b"=" + value for name, value in message.headers)
        return count, b"\n".join(chunks)
    finally:
        await consumer.stop()


async def event_ids_by_topic(bootstrap: str) -> dict[str, Counter[str]]:
    """How many times each event id occurs on each topic (values that are not JSON events as `?`)."""
    partitions = await every_partition(bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[str, Counter[str]] = {_logical(tp.topic): Counter() for tp in partitions}
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=2000)
                found[_logical(tp.topic)].update(_event_id(m.value) for m in batch.get(tp, []))
        return found
    finally:
        await consumer.stop()


def _event_id(value: bytes | None) -> str:
    try:
        return str(orjson.loads(value or b"").get("id", "?"))
    except (orjson.JSONDecodeError, AttributeError):
        return "?"
