"""The head of a message (type, tenant, id), read without validating the event: what a consumer asks its
inbox about before it decodes a message in full; anything only a full decode can judge has no head."""

from __future__ import annotations

import orjson

from schemas.codec import EventHead, peek_event
from schemas.topics import SOURCE_CHANGES, SYNC_RUNS

TOPIC = SOURCE_CHANGES.name


def _value(**fields: object) -> bytes:
    return orjson.dumps({"type": "psync.source.changed", "tenantid": "acme", "id": "e-1", **fields})


def test_a_message_s_type_tenant_and_id_are_read_without_validating_its_data() -> None:
    head = peek_event(TOPIC, b"acme:organization:7", _value(data={"not": "a source change"}))
    assert head == EventHead("psync.source.changed", "acme", "e-1")


def test_what_only_a_full_decode_can_judge_has_no_head() -> None:
    key = b"acme:organization:7"
    assert peek_event(TOPIC, key, None) is None
    assert peek_event(TOPIC, key, b"{not json") is None
    assert peek_event(TOPIC, key, b"[1, 2]") is None
    assert peek_event(TOPIC, key, _value(id=7)) is None
    assert peek_event(TOPIC, key, _value(tenantid=None)) is None
    # A type not carried by the topic.
    assert peek_event(TOPIC, key, _value(type="psync.run.started")) is None
    assert peek_event(SYNC_RUNS.name, key, _value()) is None


def test_an_event_claiming_a_tenant_its_key_does_not_belong_to_has_no_head() -> None:
    assert peek_event(TOPIC, b"globex:organization:7", _value()) is None
    assert peek_event(TOPIC, None, _value()) is None
