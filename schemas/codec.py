"""Encoding and decoding of events on the wire, with errors that name what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple

import orjson
from pydantic import AwareDatetime, BaseModel, TypeAdapter, ValidationError

from schemas.catalog import EventType, event_types_on
from schemas.envelope import CloudEvent
from schemas.event_times import time_too_far_ahead
from schemas.json_decoding import document_validators, json_validator
from schemas.keys import InvalidRecordKeyError, parse_record_key, tenant_of_key
from schemas.nul_characters import may_hold_nul, nul_locations
from schemas.topics import TopicSpec


class InvalidEvent(Exception):
    """A message that cannot be decoded or violates its topic's contract."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"invalid event on {topic}: {reason}")
        self.topic = topic
        self.reason = reason


class TenantMismatch(InvalidEvent):
    """An event whose `tenantid` is not the tenant of its Kafka key (or that has no key): it claims
    another tenant's data, so no consumer applies it."""


def check_key_tenant(topic: str, key: bytes | None, event: CloudEvent[Any]) -> None:
    """Raise TenantMismatch unless the message's key belongs to the event's tenant."""
    tenant = event.tenantid
    if key is not None and tenant.isascii() and key.partition(b":")[0] == tenant.encode():
        return  # the key's bytes before its first `:` are the tenant's (the check below, without decoding)
    if key is None:
        raise TenantMismatch(topic, f"no key: tenantid {event.tenantid!r} cannot be checked against one")
    claimed = tenant_of_key(key.decode("utf-8", errors="replace"))
    if claimed != event.tenantid:
        raise TenantMismatch(
            topic, f"tenantid {event.tenantid!r} disagrees with the tenant of the key, {claimed!r}"
        )


KeyCheck = Callable[[str, bytes | None, CloudEvent[Any]], None]
"""Checks a consumed message's key against its decoded event (the topic, for the error, first)."""


@cache  # built once per topic
def key_check_of(topic: str) -> KeyCheck:
    """How a consumer checks a message's key against its event on `topic`: the tenant on every topic
    (`check_key_tenant`); on a topic of the ABM platform (`TopicSpec.external`), also the contract's key
    (schemas/ABM-CONTRACTS.md): a record key `tenant:<object>:<match key>` of the topic's object, and a
    `subject` that is the key. Our own topics are left to the tenant check (their keys and subjects are
    their producers' own, e.g. a run's `tenant:run_id`)."""
    spec = _external_spec(topic)
    if spec is None:
        return check_key_tenant
    record_object = parse_record_key(spec.key).object  # "tenant:organization:domain": organization

    def check_record_key(where: str, key: bytes | None, event: CloudEvent[Any]) -> None:
        check_key_tenant(where, key, event)
        text = (key or b"").decode("utf-8", errors="replace")
        try:
            parsed = parse_record_key(text)
        except InvalidRecordKeyError as exc:
            raise InvalidEvent(where, f"key: {exc}") from exc
        if parsed.object is not record_object:
            raise InvalidEvent(
                where, f"key: {text!r} is not a key of {record_object.value}s, as {spec.key!r}"
            )
        if event.subject != text:
            raise InvalidEvent(where, f"subject: {event.subject!r} is not the key {text!r}")

    return check_record_key


def encode_event(event: CloudEvent[Any]) -> bytes:
    """Serialize an event to structured-mode CloudEvents JSON."""
    return orjson.dumps(event.model_dump(mode="json", exclude_none=True))


_TIME = TypeAdapter(AwareDatetime)


def envelope_time(moment: datetime) -> str:
    """An aware time as an event's `time` is written (in UTC)."""
    text: str = _TIME.dump_python(moment.astimezone(UTC), mode="json")
    return text


def encode_envelope(
    *,
    event_id: str,
    source: str,
    event_type: str,
    time: str,
    subject: str,
    tenant: str,
    data: dict[str, Any],
    correlationid: str | None = None,
    causationid: str | None = None,
) -> bytes:
    """The bytes `encode_event(build_event(...))` gives of the event with these attributes, written
    straight as JSON, for hot paths (a page of source changes, a batch of record results) whose values
    are already checked: nothing is validated here. `time` as `envelope_time` writes it, `data` the
    payload's `model_dump(mode="json", exclude_none=True)`; absent extension attributes are left out as
    `encode_event` leaves them out. tests/unit/schemas/test_unvalidated_events.py compares the bytes."""
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": time,
        "subject": subject,
        "datacontenttype": "application/json",
        "tenantid": tenant,
    }
    if correlationid is not None:
        envelope["correlationid"] = correlationid
    if causationid is not None:
        envelope["causationid"] = causationid
    envelope["data"] = data
    return orjson.dumps(envelope)


_PROBE_ID, _PROBE_SUBJECT = "\x00id", "\x00subject"
"""Placeholders no attribute holds as JSON (orjson writes the NUL as `\\u0000`, and a backslash as `\\\\`)."""


def cut_at_placeholders(encoded: bytes, *placeholders: str) -> list[bytes]:
    """The pieces of JSON `encoded` around the JSON strings of `placeholders` (each once, in this order):
    a template whose parts are joined back with each part's own JSON in between. Placeholders start with
    a NUL, which no real value holds as JSON."""
    pieces: list[bytes] = []
    rest = encoded
    for placeholder in placeholders:
        head, rest = rest.split(orjson.dumps(placeholder))
        pieces.append(head)
    return [*pieces, rest]


class EnvelopeTemplate:
    """`encode_envelope` for many events that share every attribute but their id, subject and data (a
    page of source changes): the shared attributes are encoded once, taken from `encode_envelope`'s own
    bytes, and an event costs the encoding of its id, subject and data. `encode(...)` is the bytes of
    `encode_envelope(event_id=..., subject=..., data=...)` with these attributes, `data` given as its
    JSON (`orjson.dumps` of the payload's dump). tests/unit/schemas/test_unvalidated_events.py compares
    them."""

    def __init__(
        self,
        *,
        source: str,
        event_type: str,
        time: str,
        tenant: str,
        correlationid: str | None = None,
        causationid: str | None = None,
    ) -> None:
        probe = encode_envelope(
            event_id=_PROBE_ID,
            source=source,
            event_type=event_type,
            time=time,
            subject=_PROBE_SUBJECT,
            tenant=tenant,
            data={},
            correlationid=correlationid,
            causationid=causationid,
        )
        self._head, self._middle, tail = cut_at_placeholders(probe, _PROBE_ID, _PROBE_SUBJECT)
        if not tail.endswith(b"{}}"):
            raise AssertionError("the envelope's data is not its last attribute")
        self._tail = tail[:-3]

    @property
    def pieces(self) -> tuple[bytes, bytes, bytes]:
        """The event's JSON around its id's JSON, its subject's and its data's (`encode` joins them
        with those and the closing `}`), for callers that write the three as they join them."""
        return self._head, self._middle, self._tail

    def encode(self, event_id: str, subject: str, data: bytes) -> bytes:
        """The event's bytes (`data`: the payload as JSON)."""
        dumps = orjson.dumps
        return b"".join((self._head, dumps(event_id), self._middle, dumps(subject), self._tail, data, b"}"))


@cache  # per message otherwise
def _types_on(topic: str) -> dict[str, EventType]:
    return {t.name: t for t in event_types_on(topic)}


@cache  # built once per topic
def _validates_json(topic: str) -> Callable[[bytes], CloudEvent[BaseModel]] | None:
    return json_validator({name: t.envelope for name, t in _types_on(topic).items()})


@cache  # built once per topic
def _validates_document(topic: str) -> dict[str, Callable[[Any], CloudEvent[BaseModel]]]:
    return document_validators({name: t.envelope for name, t in _types_on(topic).items()})


@cache  # built once per topic
def _validates_envelope(topic: str) -> dict[str, Callable[[Any], CloudEvent[BaseModel]]]:
    return {name: t.envelope.__pydantic_validator__.validate_python for name, t in _types_on(topic).items()}


def decode_event(topic: str, raw: bytes | None) -> CloudEvent[BaseModel]:
    """Parse and validate a message of `topic` against the contract of its `type` (`decoder_of`)."""
    return decoder_of(topic)(raw)


@cache  # built once per topic
def decoder_of(topic: str) -> Callable[[bytes | None], CloudEvent[BaseModel]]:
    """The decoder of `topic`'s messages (a consumer that decodes many looks it up once): the event its
    contract accepts (`_contract_decoder_of`). On a topic of the ABM platform (`TopicSpec.external`), whose
    strings the consumers keep in PostgreSQL text, a NUL character in any string is invalid
    (`_refuse_nul`: the bytes are searched for a backslash, then for a NUL's escape, `may_hold_nul`, before
    the event is parsed), and so is an event with a time too far ahead of the consumer's clock
    (`_refuse_times_ahead`). Our own topics are not searched: Pipedrive's values lose their NUL characters
    as the client reads them, and the rest come through the HTTP APIs, which refuse them."""
    decode = _contract_decoder_of(topic)
    if _external_spec(topic) is None:
        return decode

    def decode_external(raw: bytes | None) -> CloudEvent[BaseModel]:
        if raw is not None and may_hold_nul(raw):
            _refuse_nul(topic, raw)
        event = decode(raw)
        _refuse_times_ahead(topic, event)
        return event

    return decode_external


@cache  # built once per topic
def _contract_decoder_of(topic: str) -> Callable[[bytes | None], CloudEvent[BaseModel]]:
    """The decoder of `topic`'s messages against the contract of their types.

    A valid message's event comes straight from the bytes when the topic's contract allows it
    (`json_decoding`), else from the document orjson reads, validated by the adapted validator of the type
    it names, with the topic's validators at hand. Anything else (no bytes,
    not JSON, no object, a type not allowed on the topic, a document the fast validators refuse) is judged
    by `_judged`, which gives the same event or the reason it is invalid. Instructions per event
    (valgrind): a source change 84,000 -> 71,000 -> 66,400 (times cached) -> 62,500 (the validators at
    hand), a record result 63,000 -> 44,000 -> 39,200."""
    validate_json = _validates_json(topic)
    if validate_json is not None:

        def decode_json(raw: bytes | None) -> CloudEvent[BaseModel]:
            if raw is not None:
                try:
                    return validate_json(raw)
                except ValueError:  # pydantic's ValidationError: judged below, as before
                    pass
            return _judged(topic, raw)

        return decode_json
    validators, loads = _validates_document(topic), orjson.loads

    def decode(raw: bytes | None) -> CloudEvent[BaseModel]:
        if raw is not None:
            try:
                document = loads(raw)
            except orjson.JSONDecodeError:
                pass
            else:
                kind = document.get("type") if type(document) is dict else None
                validate = validators.get(kind) if type(kind) is str else None
                if validate is not None:
                    try:
                        return validate(document)
                    except ValidationError:
                        pass
        return _judged(topic, raw)

    return decode


def _external_spec(topic: str) -> TopicSpec | None:
    """The spec of `topic` when it is a topic of the ABM platform (`TopicSpec.external`), else None."""
    return next((t.topic for t in _types_on(topic).values() if t.topic.external), None)


def _refuse_nul(topic: str, raw: bytes) -> None:
    """Raise InvalidEvent naming the first string of the JSON document `raw` that holds a NUL; return when
    none does (a backslash followed by `u0000`) or when `raw` is no JSON (the decoder judges it)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    where = next(nul_locations(document), None)
    if where is not None:
        raise InvalidEvent(topic, f"{where or 'the event'}: must not contain NUL characters (\\u0000)")


def _refuse_times_ahead(topic: str, event: CloudEvent[BaseModel]) -> None:
    """Raise InvalidEvent when a time of the event lies too far ahead of the clock (`event_times`): a
    fact cannot have happened after it is read."""
    reason = time_too_far_ahead(event, datetime.now(UTC))
    if reason is not None:
        raise InvalidEvent(topic, reason)


def _judged(topic: str, raw: bytes | None) -> CloudEvent[BaseModel]:
    """The event of a message the fast paths did not accept, or the reason it is invalid."""
    if raw is None:
        raise InvalidEvent(topic, "empty message (tombstone or null value)")
    return decode_document(topic, raw)


def decode_document(topic: str, raw: bytes) -> CloudEvent[BaseModel]:
    """`decode_event` by orjson then the envelope's validation (of the type the document names): the
    adapted validator's (`json_decoding.document_validators`), and when it refuses the document, the
    envelope's own, which accepts it or says why it is invalid."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(topic, f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidEvent(topic, "not a JSON object")
    validators = _validates_document(topic)
    kind = document.get("type")
    if not isinstance(kind, str) or kind not in validators:
        raise InvalidEvent(topic, f"event type {kind!r} is not allowed on this topic")
    try:
        return validators[kind](document)
    except ValidationError:  # the adapted validator refuses more than the envelope: the envelope judges
        pass
    try:
        return _validates_envelope(topic)[kind](document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidEvent(topic, f"{where}: {first['msg']} ({exc.error_count()} error(s))") from exc


class EventHead(NamedTuple):
    """What a consumer needs to know of an event before decoding it in full: its type, tenant and id (a
    named tuple: built once per consumed event, at half a frozen slotted dataclass's cost)."""

    type: str
    tenant: str
    id: str


def peek_event(topic: str, key: bytes | None, raw: bytes | None) -> EventHead | None:
    """The head of a message, read without validating the event against its contract; None for a
    message only a full decode can judge: not a JSON object, a type not allowed on `topic`, an id or
    tenantid that is not a string, or a tenantid its key does not belong to (`check_key_tenant`)."""
    if raw is None or key is None:
        return None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    kind, tenant, event_id = document.get("type"), document.get("tenantid"), document.get("id")
    if not (isinstance(kind, str) and isinstance(tenant, str) and isinstance(event_id, str)):
        return None
    if kind not in _types_on(topic) or tenant_of_key(key.decode("utf-8", errors="replace")) != tenant:
        return None
    return EventHead(kind, tenant, event_id)
