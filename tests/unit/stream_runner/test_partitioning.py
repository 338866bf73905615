"""The producer's partitioner gives aiokafka's (and so Kafka's Java clients') murmur2 partitions."""

from __future__ import annotations

import random

from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from stream_runner.partitioning import _MAX_STATES, murmur2, murmur2_all, partition_of, partitions_of


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


def test_a_batch_of_keys_hashes_as_each_key_alone_past_the_kept_states() -> None:
    rng = random.Random(27)
    # More distinct leading words than the states kept, of many lengths, in one batch and again.
    keys = [f"tenant-{rng.randrange(10**6)}:deal:{n}".encode() for n in range(_MAX_STATES + 500)]
    keys += [bytes(rng.randrange(256) for _ in range(rng.randrange(70))) for _ in range(2000)]
    rng.shuffle(keys)
    expected = [aiokafka_murmur2(key) for key in keys]
    assert murmur2_all(keys) == expected
    assert murmur2_all(keys) == expected
    assert partitions_of(keys, 7) == [(h & 0x7FFFFFFF) % 7 for h in expected]


def test_many_keys_sharing_their_length_and_leading_words_hash_as_aiokafkas_in_lanes() -> None:
    # A page's record keys: groups of one length and prefix (every tail length 0 to 3), hashed together.
    keys = [f"acme:organization:{n}".encode() for n in range(1, 300_000, 37)]
    keys += [f"tenant-{t}:person:{n}".encode() for t in range(3) for n in range(995, 1_010)]
    keys += [b"x" * 16 + bytes([n]) * length for n in range(256) for length in range(4)]

    assert {len(key) % 4 for key in keys} == {0, 1, 2, 3}
    assert murmur2_all(keys) == [aiokafka_murmur2(key) for key in keys]
