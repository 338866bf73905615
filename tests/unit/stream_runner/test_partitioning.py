"""The producer's partitioner gives aiokafka's (and so Kafka's Java clients') murmur2 partitions."""

from __future__ import annotations

import random

from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from stream_runner.partitioning import murmur2, partition_of


def test_murmur2_is_aiokafkas_on_every_length_and_byte() -> None:
    rng = random.Random(16)
    keys = [bytes(rng.randrange(256) for _ in range(length)) for length in range(65) for _ in range(20)]
    keys += [bytes([byte]) * length for byte in (0, 0x7F, 0x80, 0xFF) for length in range(9)]
    keys += [f"tenant-{n}:organization:{n * 7919}".encode() for n in range(500)]
    assert [murmur2(key) for key in keys] == [aiokafka_murmur2(key) for key in keys]


def test_murmur2_of_keys_sharing_their_leading_words_is_aiokafkas_every_time() -> None:
    keys = [f"{tenant}:{obj}:{n}".encode() for tenant in ("t", "acme-1", "x" * 40) for obj in
            ("organization", "person") for n in (*range(1, 3000), 10**9, 10**12, 2**63)]  # fmt: skip

    for _ in range(2):  # the second time through, every key's leading words are known
        assert [murmur2(key) for key in keys] == [aiokafka_murmur2(key) for key in keys]


def test_partition_of_is_the_positive_hash_modulo_the_partitions() -> None:
    for key in (b"", b"t:organization:1", "t:person:ünïcode".encode(), b"\xff" * 13):
        for partitions in (1, 3, 12):
            assert partition_of(key, partitions) == (aiokafka_murmur2(key) & 0x7FFFFFFF) % partitions
