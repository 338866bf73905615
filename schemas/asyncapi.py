"""The AsyncAPI 3.0 document of every topic, generated from the registry (`schemas/topics.py`) and the
event models (`schemas/catalog.py`): a channel per topic (its address, partitions, retention, key), a
message per event type (payload schema from the pydantic models, an example), and an operation per
producer and consumer of each topic. Written to `schemas/asyncapi.json` by `make schemas`; a test fails
when it is stale and validates it against the AsyncAPI 3.0.0 JSON schema."""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.catalog import EVENT_TYPES, EventType
from schemas.example_events import example_events
from schemas.topics import ALL_TOPICS, EVENT_TOPICS, TopicSpec

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
DEAD_LETTER = "deadLetter"
_DLQ_HEADERS = {
    "dlq.origin.topic": "The topic the message was read from.",
    "dlq.origin.partition": "Its partition.",
    "dlq.origin.offset": "Its offset.",
    "dlq.error.class": "The error's class (ContractViolation, TenantMismatch, PushGaveUp, ...).",
    "dlq.error.message": "The error's message (at most 2,000 characters).",
    "dlq.service": "The service that dead-lettered it.",
    "dlq.failed_at": "When (ISO 8601, UTC).",
}


def identifier(text: str) -> str:
    """A component or operation id made of the characters AsyncAPI allows in keys."""
    return re.sub(r"[^\w.\-]+", "-", text).strip("-")


def _message_id(kind: EventType) -> str:
    return identifier(kind.name)


def _payload_schemas() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Each event type's envelope schema (a reference into components.schemas), and those schemas."""
    refs, definitions = models_json_schema(
        [(kind.envelope, "validation") for kind in EVENT_TYPES],
        ref_template="#/components/schemas/{model}",
    )
    payloads = {kind.name: refs[(kind.envelope, "validation")] for kind in EVENT_TYPES}
    return payloads, definitions.get("$defs", {})


def _examples() -> dict[str, dict[str, Any]]:
    return {event.type: event.model_dump(mode="json", exclude_none=True) for event in example_events()}


def _message(kind: EventType, payload: dict[str, Any], example: dict[str, Any] | None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": kind.name,
        "title": kind.payload.__name__,
        "summary": (kind.payload.__doc__ or kind.name).strip().splitlines()[0],
        "contentType": "application/json",
        "payload": payload,
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": f"`{kind.topic.key}` (the event's `subject`)"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    if example is not None:
        message["examples"] = [{"name": "example", "payload": example}]
    return message


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": DEAD_LETTER,
        "title": "Dead letter",
        "summary": "A message a consumer could not decode or apply: the original key, value and headers, and"
        " dlq.* headers saying where it was read and why it failed.",
        "headers": {
            "type": "object",
            "properties": {
                name: {"type": "string", "description": text} for name, text in _DLQ_HEADERS.items()
            },
            "required": sorted(_DLQ_HEADERS),
        },
        "payload": {"description": "The original message's value, byte for byte."},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original message's key."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _channel(topic: TopicSpec) -> dict[str, Any]:
    kinds = [k for k in EVENT_TYPES if topic in k.topics]
    messages = {_message_id(k): {"$ref": f"#/components/messages/{_message_id(k)}"} for k in kinds}
    if not kinds:
        messages = {DEAD_LETTER: {"$ref": f"#/components/messages/{DEAD_LETTER}"}}
    configuration: dict[str, Any] = {"cleanup.policy": [topic.cleanup_policy]}
    if topic.cleanup_policy == "delete":
        configuration["retention.ms"] = topic.retention_ms
    return {
        "address": topic.name,
        "title": topic.name,
        "description": f"{topic.description} Key: `{topic.key}`. Compatibility: {topic.compatibility}."
        + (" Published by the ABM platform (schemas/ABM-CONTRACTS.md)." if topic.external else ""),
        "messages": messages,
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "topicConfiguration": configuration,
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _operations() -> dict[str, dict[str, Any]]:
    operations: dict[str, dict[str, Any]] = {}
    for topic in ALL_TOPICS:
        channel = {"$ref": f"#/channels/{identifier(topic.name)}"}
        messages = [
            {"$ref": f"#/channels/{identifier(topic.name)}/messages/{name}"}
            for name in _channel(topic)["messages"]
        ]
        for action, parties in (("send", topic.producers), ("receive", topic.consumers)):
            for party in parties:
                verb = "sends to" if action == "send" else "receives from"
                operations[identifier(f"{party}.{action}.{topic.name}")] = {
                    "action": action,
                    "channel": channel,
                    "title": f"{party} {verb} {topic.name}",
                    "messages": messages,
                }
    return operations


def asyncapi_document() -> dict[str, Any]:
    """The whole AsyncAPI 3.0 document."""
    payloads, schemas = _payload_schemas()
    examples = _examples()
    messages = {_message_id(k): _message(k, payloads[k.name], examples.get(k.name)) for k in EVENT_TYPES}
    messages[DEAD_LETTER] = _dead_letter_message()
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Pipedrive <-> ABM sync: events",
            "version": "1.0.0",
            "description": "Every Kafka topic of the system. Each event is a CloudEvents 1.0 event in"
            " structured JSON; its id is derived from its inputs, so a replay re-emits the same ids. Within"
            " v1, changes are additive only. Generated from schemas/ by `make schemas`.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "description": "The local broker of `make up` (KAFKA_BOOTSTRAP elsewhere).",
            }
        },
        "channels": {identifier(t.name): _channel(t) for t in ALL_TOPICS},
        "operations": _operations(),
        "components": {"messages": messages, "schemas": schemas},
    }


assert {t.name for t in EVENT_TOPICS} == {t.name for k in EVENT_TYPES for t in k.topics}, (
    "a topic carries no event type"
)
