"""The contracts are artifacts: every example validates and the checked-in export is current."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from schemas.catalog import EVENT_TYPES, event_types_on
from schemas.codec import InvalidEvent, check_key_tenant, decode_event, encode_event, key_check_of
from schemas.envelope import deterministic_event_id
from schemas.example_events import example_events
from schemas.export import SCHEMAS_DIR, stale_artifacts
from schemas.topics import ALL_TOPICS, EVENT_TOPICS, KEYED_PARTITIONS, SETTINGS

EXAMPLE_FILES = sorted((SCHEMAS_DIR / "examples").glob("*.json"))


def _schema_for(event_type: str) -> Draft202012Validator:
    schema = orjson.loads((SCHEMAS_DIR / "jsonschema" / f"{event_type}.schema.json").read_bytes())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def test_checked_in_artifacts_match_the_models() -> None:
    assert stale_artifacts() == [], "run `make schemas` and commit the result"


def test_every_event_type_has_a_checked_in_example() -> None:
    assert {p.name.removesuffix(".json") for p in EXAMPLE_FILES} == {t.name for t in EVENT_TYPES}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_validates_against_its_json_schema(path: Path) -> None:
    document = orjson.loads(path.read_bytes())
    errors = list(_schema_for(document["type"]).iter_errors(document))
    assert errors == []


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_decodes_on_its_topic(path: Path) -> None:
    document = orjson.loads(path.read_bytes())
    topic = next(t.topic.name for t in EVENT_TYPES if t.name == document["type"])
    event = decode_event(topic, path.read_bytes())
    assert event.id == document["id"]
    assert event.tenantid == "acme"


def test_every_event_topic_carries_only_catalogued_types() -> None:
    for topic in EVENT_TOPICS:
        assert {t.name for t in event_types_on(topic.name)} == set(topic.event_types)


def test_keyed_topics_share_one_partition_count_and_settings_are_compacted() -> None:
    assert {t.partitions for t in ALL_TOPICS} == {KEYED_PARTITIONS}
    assert SETTINGS.kafka_config()["cleanup.policy"] == "compact"
    assert "retention.ms" not in SETTINGS.kafka_config()


def test_every_consumer_has_a_dead_letter_topic() -> None:
    names = {t.name for t in ALL_TOPICS}
    for service in {c for t in EVENT_TOPICS for c in t.consumers if c in {"mapper", "pusher", "auditlog"}}:
        assert f"psync.{service}.dlq" in names


def test_encoding_round_trips_every_example() -> None:
    for event in example_events():
        decoded = decode_event(event_types_on_topic_of(event.type), encode_event(event))
        assert decoded == event


def event_types_on_topic_of(event_type: str) -> str:
    return next(t.topic.name for t in EVENT_TYPES if t.name == event_type)


def test_event_ids_are_deterministic_over_their_inputs() -> None:
    assert deterministic_event_id("a", 1) == deterministic_event_id("a", 1)
    assert deterministic_event_id("a", 1) != deterministic_event_id("a", 2)
    assert deterministic_event_id("a", "b|c") != deterministic_event_id("a|b", "c")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (None, "empty message"),
        (b'{"type": "abm.score.changed"}', "not allowed on this topic"),
    ],
)
def test_undecodable_messages_are_rejected_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        decode_event("psync.source-changes.v1", raw)


def test_a_contract_violation_names_the_field() -> None:
    example = orjson.loads((SCHEMAS_DIR / "examples" / "abm.score.changed.json").read_bytes())
    example["data"]["score"] = 101
    with pytest.raises(InvalidEvent, match=r"data\.score"):
        decode_event("abm.score-changed.v1", orjson.dumps(example))


@pytest.mark.parametrize("where", ["time", "changed_at"])
def test_naive_timestamps_are_rejected(where: str) -> None:
    example = orjson.loads((SCHEMAS_DIR / "examples" / "abm.score.changed.json").read_bytes())
    (example if where == "time" else example["data"])[where] = "2026-11-02T09:30:00"
    with pytest.raises(InvalidEvent, match="timezone"):
        decode_event("abm.score-changed.v1", orjson.dumps(example))


def _example(kind: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((SCHEMAS_DIR / "examples" / f"{kind}.json").read_bytes())
    return document


ABM_TOPICS = {t.name: t.topic.name for t in EVENT_TYPES if t.topic.external}


@pytest.mark.parametrize("kind", sorted(ABM_TOPICS))
@pytest.mark.parametrize(
    ("where", "edit"),
    [
        ("source", lambda d: {**d, "source": "/abm\u0000"}),
        ("data.domain", lambda d: {**d, "data": {**d["data"], "domain": "a\u0000.io"}}),
        ("extra.a\\u0000", lambda d: {**d, "extra": {"a\u0000": 1}}),  # even where nothing reads it
    ],
)
def test_a_nul_in_an_abm_event_is_invalid_and_named(kind: str, where: str, edit: Any) -> None:
    raw = orjson.dumps(edit(_example(kind)))
    with pytest.raises(InvalidEvent, match=f"^invalid event on {ABM_TOPICS[kind]}: {re.escape(where)}: must"):
        decode_event(ABM_TOPICS[kind], raw)


def test_a_backslash_then_u0000_is_no_nul() -> None:
    example = _example("abm.company.revealed")
    example["data"]["name"] = "C:\\u0000 Ltd"
    raw = orjson.dumps(example)
    assert b"\\\\u0000" in raw
    assert decode_event("abm.company-revealed.v1", raw).data.name == "C:\\u0000 Ltd"  # type: ignore[attr-defined]


def test_our_own_events_keep_a_nul_of_a_pipedrive_value() -> None:
    example = _example("psync.source.changed")
    example["data"]["record"]["name"] = "a\u0000b"
    event = decode_event("psync.source-changes.v1", orjson.dumps(example))
    assert event.data.record["name"] == "a\u0000b"  # type: ignore[attr-defined]


def _abm_event(kind: str, subject: str) -> Any:
    example = _example(kind)
    return decode_event(ABM_TOPICS[kind], orjson.dumps({**example, "subject": subject}))


@pytest.mark.parametrize("kind", sorted(ABM_TOPICS))
def test_an_abm_example_passes_the_key_check_under_its_subject(kind: str) -> None:
    event = _abm_event(kind, _example(kind)["subject"])
    key_check_of(ABM_TOPICS[kind])("t", event.subject.encode(), event)


@pytest.mark.parametrize(
    ("key", "subject", "reason"),
    [
        ("acme", "acme", "key: 'acme' is not a record key of the form tenant:object:match_key"),
        ("acme:organization:", "acme:organization:", "is not a record key"),
        ("acme:lead:7", "acme:lead:7", "names an unknown object 'lead'"),
        ("acme:deal:7", "acme:deal:7", "is not a key of organizations"),
        ("acme:person:a@b.io", "acme:person:a@b.io", "is not a key of organizations"),
        (
            "acme:organization:example.co.uk",
            "acme:organization:other.io",
            "subject: 'acme:organization:other.io' is not the key 'acme:organization:example.co.uk'",
        ),
    ],
)
def test_an_abm_event_needs_a_record_key_of_its_object_and_its_key_as_subject(
    key: str, subject: str, reason: str
) -> None:
    event = _abm_event("abm.score.changed", subject)
    with pytest.raises(InvalidEvent, match=re.escape(reason)):
        key_check_of("abm.score-changed.v1")("abm.score-changed.v1", key.encode(), event)


def test_our_own_topics_check_only_the_tenant_of_the_key() -> None:
    assert all(key_check_of(t.name) is check_key_tenant for t in EVENT_TOPICS if not t.external)
