"""schemas/asyncapi.json: every topic as a channel, every event type as a message whose payload is the
models' schema, every producer and consumer as an operation; valid against the AsyncAPI 3.0.0 JSON schema
(vendored from asyncapi/spec-json-schemas: tests/unit/schemas/vendored/asyncapi-3.0.0.json, no network),
every reference resolving, every example valid against its message's payload. Staleness is checked with
the other generated files (test_contracts: `make schemas`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from schemas.asyncapi import DEAD_LETTER, asyncapi_document, identifier
from schemas.catalog import EVENT_TYPES
from schemas.export import SCHEMAS_DIR
from schemas.topics import ALL_TOPICS

META_SCHEMA = json.loads((Path(__file__).parent / "vendored/asyncapi-3.0.0.json").read_text())


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SCHEMAS_DIR / "asyncapi.json").read_text())
    return document


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_is_valid_asyncapi_3() -> None:
    jsonschema.Draft7Validator(META_SCHEMA).validate(_document())


def test_the_validation_would_catch_a_broken_document() -> None:
    broken = asyncapi_document()
    first = next(iter(broken["operations"].values()))
    first["action"] = "publish"  # AsyncAPI 2's word, not 3's
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(META_SCHEMA).validate(broken)


def test_every_reference_resolves() -> None:
    document = _document()
    for ref in set(_references(document)):
        assert _resolve(document, ref) is not None, ref


def test_every_topic_is_a_channel_with_its_partitions_and_key() -> None:
    channels = _document()["channels"]
    for topic in ALL_TOPICS:
        channel = channels[identifier(topic.name)]
        assert channel["address"] == topic.name
        assert channel["bindings"]["kafka"]["partitions"] == topic.partitions
        assert topic.key in channel["description"]


def test_every_producer_and_consumer_is_an_operation_on_its_topic() -> None:
    operations = _document()["operations"]
    for topic in ALL_TOPICS:
        for action, parties in (("send", topic.producers), ("receive", topic.consumers)):
            for party in parties:
                operation = operations[identifier(f"{party}.{action}.{topic.name}")]
                assert operation["action"] == action
                assert operation["channel"] == {"$ref": f"#/channels/{identifier(topic.name)}"}


def test_every_event_type_is_a_message_of_its_topics_channel_and_its_example_validates() -> None:
    document = _document()
    for kind in EVENT_TYPES:
        channel = document["channels"][identifier(kind.topic.name)]
        assert channel["messages"][identifier(kind.name)] == {
            "$ref": f"#/components/messages/{identifier(kind.name)}"
        }
        message = document["components"]["messages"][identifier(kind.name)]
        schema = {**message["payload"], "components": document["components"]}
        for example in message["examples"]:
            jsonschema.Draft202012Validator(schema).validate(example["payload"])
    assert DEAD_LETTER in document["components"]["messages"]
