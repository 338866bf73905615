"""A record's digest is part of its event ids and of the versions stored: it stays BLAKE2b (16 bytes) of
the record's JSON with sorted keys, whichever way it is computed."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from connector.source_events import record_digest

RECORDS: list[dict[str, Any]] = [
    {},
    {"id": 1, "name": "Acme", "address": {"city": "Oslo", "country": "NO"}},
    {"z": [1, 2.5, None, {"b": True, "a": "Zürich ✓"}], "a": "x" * 5000},
]


def test_the_digest_is_blake2b_16_of_the_sorted_json_every_time() -> None:
    for _ in range(2):  # computing one digest leaves the next unchanged
        for record in RECORDS:
            encoded = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
            assert record_digest(record) == hashlib.blake2b(encoded, digest_size=16).hexdigest()


def test_a_known_records_digest_is_unchanged() -> None:
    assert record_digest(RECORDS[1]) == "ec879746ebfa3458f5ee5c9eeed1d060"
