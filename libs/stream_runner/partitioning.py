"""The partition of a keyed message: Kafka's default partitioner (murmur2 of the key, as the Java clients
and aiokafka's `send` choose), computed a word at a time.

aiokafka's `murmur2` reads the key byte by byte in Python: about 4 µs for a record key, a tenth of what
the connector spent on a record. This one unpacks the key's 32-bit words at once and gives the same
hash (a unit test compares them on keys of every length up to 64 and on random ones).
"""

from __future__ import annotations

import struct

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF
_SEED = 0x9747B28C
_WORDS: dict[int, struct.Struct] = {}


def _words(count: int) -> struct.Struct:
    unpacker = _WORDS.get(count)
    if unpacker is None:
        unpacker = _WORDS[count] = struct.Struct(f"<{count}I")
    return unpacker


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of `data` (unsigned 32 bits, as `aiokafka.partitioner.murmur2` returns it)."""
    length = len(data)
    h = _SEED ^ length
    whole = length & ~3
    for k in _words(length >> 2).unpack_from(data):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length - whole
    if rest:
        if rest == 3:
            h ^= data[whole + 2] << 16
        if rest >= 2:
            h ^= data[whole + 1] << 8
        h = ((h ^ data[whole]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition of a message with this key among `partitions`."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
