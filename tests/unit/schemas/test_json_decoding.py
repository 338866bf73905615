"""`decode_event` gives what it gave before its validators were adapted (`schemas.json_decoding`):
`old_decode`, today's code as it was (orjson, then the envelope's own `model_validate`), is the oracle.
Every case compares the whole decode, the document path and, on a topic that has one, the straight path
on its own: when it accepts a message its event is the oracle's (class, attributes and the fields set
alike); when the oracle refuses one, it refuses it too."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from schemas.catalog import EVENT_TYPES, EventType, event_types_on
from schemas.codec import InvalidEvent, _validates_json, decode_document, decode_event, decoder_of
from schemas.envelope import CloudEvent
from schemas.events.source_changes import SourceChange
from schemas.export import SCHEMAS_DIR
from schemas.json_decoding import _TIMES_KEPT, _EventTimes
from schemas.topics import RECORD_RESULTS, SOURCE_CHANGES

EXAMPLE_FILES = sorted((SCHEMAS_DIR / "examples").glob("*.json"))
TOPIC_OF = {t.name: t.topic.name for t in EVENT_TYPES}
CHANGE: dict[str, Any] = orjson.loads((SCHEMAS_DIR / "examples" / "psync.source.changed.json").read_bytes())
RESULT: dict[str, Any] = orjson.loads((SCHEMAS_DIR / "examples" / "psync.record.applied.json").read_bytes())


def old_decode(topic: str, raw: bytes) -> CloudEvent[BaseModel]:
    """`decode_event` as it was before the adapted validators (the oracle)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(topic, f"not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidEvent(topic, "not a JSON object")
    allowed: dict[str, EventType] = {t.name: t for t in event_types_on(topic)}
    kind = document.get("type")
    if kind not in allowed:
        raise InvalidEvent(topic, f"event type {kind!r} is not allowed on this topic")
    try:
        return allowed[kind].envelope.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidEvent(topic, f"{where}: {first['msg']} ({exc.error_count()} error(s))") from exc


def outcome(decode: Any, topic: str, raw: bytes) -> tuple[Any, ...]:
    """What a decoding gives, to compare: the event's class, repr and fields set, or the error."""
    try:
        event = decode(topic, raw)
    except InvalidEvent as exc:
        return ("invalid", type(exc), exc.topic, exc.reason)
    return ("event", type(event), repr(event), event.model_fields_set, event.data.model_fields_set)


def assert_decodes_as_before(topic: str, raw: bytes) -> tuple[Any, ...]:
    before = outcome(old_decode, topic, raw)
    assert outcome(decode_event, topic, raw) == before
    assert outcome(decode_document, topic, raw) == before
    assert outcome(lambda t, r: decoder_of(t)(r), topic, raw) == before  # a consumer's decoder of the topic
    straight = _validates_json(topic)
    if straight is None:
        return before
    try:
        event = straight(raw)
    except ValueError:
        return before
    assert before[0] == "event", f"the straight path accepts what the old path refuses: {before}"
    assert outcome(lambda _t, _r: event, topic, raw) == before
    return before


def with_changes(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**document, **changes}


def with_data(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**document, "data": {**document["data"], **changes}}


def without(document: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != name}


def with_text(document: dict[str, Any], where: str, text: str) -> bytes:
    """`document` with JSON text orjson may not write (`NaN`, `1e400`) as an attribute (`where`: `x`) or
    a payload field (`data.x`)."""
    probe = (
        with_data(document, **{where[5:]: "PROBE"})
        if where.startswith("data.")
        else with_changes(document, **{where: "PROBE"})
    )
    return orjson.dumps(probe).replace(b'"PROBE"', text.encode())


def with_record_value(text: str) -> bytes:
    """The example change with JSON text orjson may not write as a value of its record."""
    record = {**CHANGE["data"]["record"], "probe": "PROBE"}
    return orjson.dumps(with_data(CHANGE, record=record)).replace(b'"PROBE"', text.encode())


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_every_example_decodes_as_before(path: Path) -> None:
    raw = path.read_bytes()
    assert assert_decodes_as_before(TOPIC_OF[orjson.loads(raw)["type"]], raw)[0] == "event"


def test_record_results_decode_straight_from_the_bytes() -> None:
    straight = _validates_json(RECORD_RESULTS.name)
    assert straight is not None
    raw = orjson.dumps(RESULT)
    assert straight(raw) == old_decode(RECORD_RESULTS.name, raw)


def test_times_are_normalised_to_utc_as_before() -> None:
    for document, topic in ((CHANGE, SOURCE_CHANGES.name), (RESULT, RECORD_RESULTS.name)):
        raw = orjson.dumps(with_changes(document, time="2026-11-02T11:30:00.5+02:00"))
        event = decode_event(topic, raw)
        assert event.time.tzinfo is UTC
        assert event.time.isoformat() == "2026-11-02T09:30:00.500000+00:00"
        assert assert_decodes_as_before(topic, raw)[0] == "event"


def test_a_type_that_is_no_string_is_not_allowed() -> None:
    """The old code looked an unhashable `type` up in a dict (TypeError); now it is an invalid event."""
    for kind in ([1], {"a": 1}):
        with pytest.raises(InvalidEvent, match="is not allowed on this topic"):
            decode_event(SOURCE_CHANGES.name, orjson.dumps(with_changes(CHANGE, type=kind)))


EDGES: list[tuple[str, Any]] = [
    ("as is", lambda d: orjson.dumps(d)),
    ("naive time", lambda d: orjson.dumps(with_changes(d, time="2026-11-02T09:30:00"))),
    ("offset time", lambda d: orjson.dumps(with_changes(d, time="2026-11-02T09:30:00-05:30"))),
    ("time as a number", lambda d: orjson.dumps(with_changes(d, time=1_762_075_800))),
    ("time as a float", lambda d: orjson.dumps(with_changes(d, time=1_762_075_800.25))),
    ("time 1e400", lambda d: with_text(d, "time", "1e400")),
    ("time big", lambda d: with_text(d, "time", "123456789012345678901234")),
    ("time not a time", lambda d: orjson.dumps(with_changes(d, time="yesterday"))),
    ("extra attribute", lambda d: orjson.dumps(with_changes(d, traceparent="00-abc-01"))),
    ("extra payload field", lambda d: orjson.dumps(with_data(d, note="ignored"))),
    ("extra NaN", lambda d: with_text(d, "x", "NaN")),
    ("extra Infinity", lambda d: with_text(d, "x", "[-Infinity]")),
    ("extra 1e400", lambda d: with_text(d, "x", "1e400")),
    ("extra big int", lambda d: with_text(d, "x", "123456789012345678901234567890")),
    ("payload extra NaN", lambda d: with_text(d, "data.x", "NaN")),
    ("payload extra big int", lambda d: with_text(d, "data.x", "18446744073709551616")),
    ("wrong type on topic", lambda d: orjson.dumps(with_changes(d, type="psync.settings.updated"))),
    ("unknown type", lambda d: orjson.dumps(with_changes(d, type="psync.nothing"))),
    ("type a number", lambda d: orjson.dumps(with_changes(d, type=7))),
    ("type null", lambda d: orjson.dumps(with_changes(d, type=None))),
    ("no type", lambda d: orjson.dumps(without(d, "type"))),
    ("no data", lambda d: orjson.dumps(without(d, "data"))),
    ("data null", lambda d: orjson.dumps(with_changes(d, data=None))),
    ("data a list", lambda d: orjson.dumps(with_changes(d, data=[]))),
    ("no time", lambda d: orjson.dumps(without(d, "time"))),
    ("no datacontenttype", lambda d: orjson.dumps(without(d, "datacontenttype"))),
    ("other datacontenttype", lambda d: orjson.dumps(with_changes(d, datacontenttype="text/plain"))),
    ("bad specversion", lambda d: orjson.dumps(with_changes(d, specversion="0.3"))),
    ("specversion a number", lambda d: orjson.dumps(with_changes(d, specversion=1.0))),
    ("bad tenant", lambda d: orjson.dumps(with_changes(d, tenantid="a:b"))),
    ("empty id", lambda d: orjson.dumps(with_changes(d, id=""))),
    ("long id", lambda d: orjson.dumps(with_changes(d, id="x" * 201))),
    ("id a number", lambda d: orjson.dumps(with_changes(d, id=5))),
    ("null correlation", lambda d: orjson.dumps(with_changes(d, correlationid=None))),
    ("no correlation", lambda d: orjson.dumps(without(d, "correlationid"))),
    ("causation a number", lambda d: orjson.dumps(with_changes(d, causationid=3))),
    ("several errors", lambda d: orjson.dumps(with_changes(d, id="", tenantid="", time="x"))),
    ("pipedrive id as text", lambda d: orjson.dumps(with_data(d, pipedrive_id="1042"))),
    ("pipedrive id as float", lambda d: orjson.dumps(with_data(d, pipedrive_id=1042.0))),
    ("pipedrive id fractional", lambda d: orjson.dumps(with_data(d, pipedrive_id=1042.5))),
    ("pipedrive id zero", lambda d: orjson.dumps(with_data(d, pipedrive_id=0))),
    ("pipedrive id true", lambda d: orjson.dumps(with_data(d, pipedrive_id=True))),
    ("pipedrive id 2**63", lambda d: orjson.dumps(with_data(d, pipedrive_id=2**63))),
    ("pipedrive id 2**64-1", lambda d: orjson.dumps(with_data(d, pipedrive_id=2**64 - 1))),
    ("pipedrive id 2**64", lambda d: with_text(d, "data.pipedrive_id", str(2**64))),
    ("pipedrive id 2**64+1", lambda d: with_text(d, "data.pipedrive_id", str(2**64 + 1))),
    ("pipedrive id 1e20", lambda d: with_text(d, "data.pipedrive_id", "1e20")),
    ("pipedrive id 1e18", lambda d: with_text(d, "data.pipedrive_id", "1e18")),
    ("pipedrive id 1e400", lambda d: with_text(d, "data.pipedrive_id", "1e400")),
    ("pipedrive id NaN", lambda d: with_text(d, "data.pipedrive_id", "NaN")),
    ("unknown object", lambda d: orjson.dumps(with_data(d, object="lead"))),
    ("object as number", lambda d: orjson.dumps(with_data(d, object=1))),
    ("no object", lambda d: orjson.dumps({**d, "data": without(d["data"], "object")})),
    ("duplicate type", lambda d: orjson.dumps(d)[:-1] + b',"type":"psync.settings.updated"}'),
    ("duplicate type, right one last", lambda d: b'{"type":"psync.settings.updated",' + orjson.dumps(d)[1:]),
    ("duplicate id", lambda d: orjson.dumps(d)[:-1] + b',"id":"other"}'),
    ("duplicate time", lambda d: orjson.dumps(d)[:-1] + b',"time":"2026-11-02T10:30:00+01:00"}'),
    ("duplicate data", lambda d: orjson.dumps(d)[:-1] + b',"data":{}}'),
    ("invalid UTF-8", lambda d: orjson.dumps(with_changes(d, source="/a")).replace(b"/a", b"/\xff")),
    (
        "encoded surrogate",
        lambda d: orjson.dumps(with_changes(d, source="/a")).replace(b"/a", b"/\xed\xa0\x80"),
    ),
    (
        "lone surrogate escape",
        lambda d: orjson.dumps(with_changes(d, source="/a")).replace(b"/a", b"/\\ud800"),
    ),
    (
        "surrogate pair escape",
        lambda d: orjson.dumps(with_changes(d, source="/a")).replace(b"/a", b"/\\ud83d\\ude00"),
    ),
    ("NUL escape", lambda d: orjson.dumps(with_changes(d, source="/a\u0000b"))),
    ("four-byte UTF-8", lambda d: orjson.dumps(with_changes(d, source="/\U0001f600"))),
    ("BOM", lambda d: b"\xef\xbb\xbf" + orjson.dumps(d)),
    ("surrounding whitespace", lambda d: b" \n\t" + orjson.dumps(d) + b" \r\n"),
    ("trailing data", lambda d: orjson.dumps(d) + b" {}"),
    ("trailing NUL", lambda d: orjson.dumps(d) + b"\x00"),
    ("trailing comma", lambda d: orjson.dumps(d)[:-1] + b",}"),
    ("control character", lambda d: orjson.dumps(with_changes(d, source="/a")).replace(b"/a", b"/\x01")),
    ("truncated", lambda d: orjson.dumps(d)[:-7]),
    ("deep extra", lambda d: with_text(d, "x", "[" * 300 + "]" * 300)),
    ("very deep extra", lambda d: with_text(d, "x", "[" * 1100 + "]" * 1100)),
    ("not JSON", lambda d: b"not json"),
    ("a list", lambda d: b"[1, 2]"),
    ("a string", lambda d: b'"psync.source.changed"'),
    ("null", lambda d: b"null"),
    ("empty", lambda d: b""),
    ("empty object", lambda d: b"{}"),
]


@pytest.mark.parametrize(("case", "edit"), EDGES, ids=[case for case, _ in EDGES])
@pytest.mark.parametrize("base", ["change", "result"])
def test_edge_cases_decode_as_before(base: str, case: str, edit: Any) -> None:
    document, topic = {"change": (CHANGE, SOURCE_CHANGES.name), "result": (RESULT, RECORD_RESULTS.name)}[base]
    assert_decodes_as_before(topic, edit(document))
    other = RECORD_RESULTS.name if topic == SOURCE_CHANGES.name else SOURCE_CHANGES.name
    assert_decodes_as_before(other, edit(document))  # a message on the wrong topic


RECORDS: list[tuple[str, bytes]] = [
    ("record a list", orjson.dumps(with_data(CHANGE, record=[1, 2]))),
    ("record a string", orjson.dumps(with_data(CHANGE, record="x"))),
    ("record a number", orjson.dumps(with_data(CHANGE, record=3))),
    ("record null", orjson.dumps(with_data(CHANGE, record=None))),
    ("record empty", orjson.dumps(with_data(CHANGE, record={}))),
    ("no record", orjson.dumps({**CHANGE, "data": without(CHANGE["data"], "record")})),
    ("naive update time", orjson.dumps(with_data(CHANGE, update_time="2026-11-02T09:29:41"))),
    (
        "import context",
        orjson.dumps(
            with_data(CHANGE, import_context={"import_id": "i", "duplicate_handling": "skip_duplicates"})
        ),
    ),
    (
        "import context extra",
        orjson.dumps(
            with_data(
                CHANGE, import_context={"import_id": "i", "duplicate_handling": "skip_duplicates", "x": 1}
            )
        ),
    ),
    (
        "import context bad",
        orjson.dumps(with_data(CHANGE, import_context={"import_id": "", "duplicate_handling": "maybe"})),
    ),
    ("record NaN", with_record_value("NaN")),
    ("record Infinity", with_record_value("Infinity")),
    ("record 1e400", with_record_value("1e400")),
    ("record 1e-400", with_record_value("1e-400")),
    ("record -0", with_record_value("-0")),
    ("record -0.0", with_record_value("-0.0")),
    ("record 2**64", with_record_value(str(2**64))),
    ("record 2**64+3*2**11", with_record_value(str(2**64 + 3 * 2**11))),
    ("record -2**63-1", with_record_value(str(-(2**63) - 1))),
    ("record 10**400", with_record_value(str(10**400))),
    ("record past float", with_record_value("1.7976931348623159e308")),
    ("record nested", with_record_value('{"a": [1, {"b": null, "c": [true, 1.5, "x"]}]}')),
    ("record 250 deep", with_record_value("[" * 250 + "]" * 250)),
    ("record 1100 deep", with_record_value("[" * 1100 + "]" * 1100)),
    ("record duplicate keys", with_record_value('{"a": 1, "a": 2, "b": 3}')),
    ("record duplicate record", orjson.dumps(CHANGE).replace(b'"record":{', b'"record":{"z":1},"record":{')),
]


@pytest.mark.parametrize(("case", "raw"), RECORDS, ids=[case for case, _ in RECORDS])
def test_source_changes_decode_as_before(case: str, raw: bytes) -> None:
    assert_decodes_as_before(SOURCE_CHANGES.name, raw)


@pytest.mark.parametrize("topic", [SOURCE_CHANGES.name, RECORD_RESULTS.name])
def test_a_topics_decoder_refuses_a_message_without_bytes(topic: str) -> None:
    for decode in (decoder_of(topic), partial(decode_event, topic)):
        with pytest.raises(InvalidEvent) as refused:
            decode(None)
        assert (refused.value.topic, refused.value.reason) == (
            topic,
            "empty message (tombstone or null value)",
        )


def test_the_straight_path_refuses_what_orjson_reads_otherwise() -> None:
    straight = _validates_json(RECORD_RESULTS.name)
    assert straight is not None
    for text in ("NaN", "1e400", "123456789012345678901234567890"):
        with pytest.raises(ValueError):
            straight(with_text(RESULT, "x", text))
    for text in (str(2**64), "1e400", "NaN"):
        with pytest.raises(ValueError):
            straight(with_text(RESULT, "data.pipedrive_id", text))


def test_the_record_is_orjsons_object_and_still_a_plain_dict() -> None:
    change = decode_event(SOURCE_CHANGES.name, orjson.dumps(CHANGE)).data
    assert isinstance(change, SourceChange)
    assert type(change.record) is dict
    assert change.record == CHANGE["data"]["record"]


_JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.integers(min_value=-(10**330), max_value=10**330),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)
_NUMBER_TEXTS = st.sampled_from(
    ["1e400", "-1e309", "1E+999", "0.5e-400", "12345678901234567890e300", "1.0", "7"]
)
_PLACES = ["record value", "record", "x", "data.x", "data.pipedrive_id", "time", "data.merged_into_id", "id"]


@settings(max_examples=400, deadline=None)
@given(
    value=_JSON_VALUES,
    number=_NUMBER_TEXTS,
    where=st.sampled_from(_PLACES),
    base=st.sampled_from(["change", "result"]),
)
def test_any_value_anywhere_decodes_as_before(value: Any, number: str, where: str, base: str) -> None:
    """Python's json writes NaN, Infinity and big integers, the text orjson refuses or reads as floats."""
    document, topic = {"change": (CHANGE, SOURCE_CHANGES.name), "result": (RESULT, RECORD_RESULTS.name)}[base]
    for text in (json.dumps(value), json.dumps([value]).replace("]", f", {number}]")):
        if where == "record value":
            raw = orjson.dumps(with_data(document, record={"probe": "PROBE"})).replace(
                b'"PROBE"', text.encode()
            )
        elif where == "record":
            raw = orjson.dumps(with_data(document, record="PROBE")).replace(b'"PROBE"', text.encode())
        else:
            raw = with_text(document, where, text)
        assert_decodes_as_before(topic, raw)


def test_an_event_time_is_validated_once_then_looked_up() -> None:
    """`_EventTimes` asks its validator once per text; a text it refuses raises and is not kept."""
    asked: list[str] = []

    def validate(text: str) -> datetime:
        asked.append(text)
        if text == "bad":
            raise ValueError("bad time")
        return datetime.fromisoformat(text)

    times = _EventTimes(validate)
    first = times["2026-11-02T09:30:00+00:00"]
    assert times["2026-11-02T09:30:00+00:00"] is first
    assert asked == ["2026-11-02T09:30:00+00:00"]
    for _ in range(2):
        with pytest.raises(ValueError, match="bad time"):
            times["bad"]
    assert asked == ["2026-11-02T09:30:00+00:00", "bad", "bad"]
    assert "bad" not in times


def test_the_event_times_kept_are_bounded() -> None:
    times = _EventTimes(datetime.fromisoformat)
    for second in range(_TIMES_KEPT + 10):
        text = f"2026-11-02T09:30:00.{second:06d}+00:00"
        assert times[text] == datetime.fromisoformat(text)
    assert 0 < len(times) <= _TIMES_KEPT


def test_a_time_decoded_before_decodes_the_same_from_the_cache() -> None:
    """The second decode of a time is served by the cache: the event is the oracle's all the same, its time
    in `datetime.UTC` (an offset converted), on both topics and both paths."""
    for document, topic in ((CHANGE, SOURCE_CHANGES.name), (RESULT, RECORD_RESULTS.name)):
        for time in ("2026-11-02T11:30:00.5+02:00", "2026-11-02T09:30:00Z", "2026-11-02T09:30:00"):
            raw = orjson.dumps(with_changes(document, time=time))
            first = assert_decodes_as_before(topic, raw)
            assert assert_decodes_as_before(topic, raw) == first
        raw = orjson.dumps(with_changes(document, time="2026-11-02T11:30:00.5+02:00"))
        event = decode_event(topic, raw)
        assert event.time.tzinfo is UTC
        assert event.time == datetime(2026, 11, 2, 9, 30, 0, 500000, tzinfo=UTC)
        assert decode_event(topic, raw).time is event.time  # the cache's
        assert decode_document(topic, raw).time is decode_document(topic, raw).time


@pytest.mark.parametrize("time", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_beyond_the_years_in_utc_is_an_invalid_event(time: str) -> None:
    """Its conversion to UTC overflowed: an OverflowError out of the decode stopped the consumer at the
    message, again after every restart. Now it is invalid, and the runner dead-letters it."""
    for document, topic in ((CHANGE, SOURCE_CHANGES.name), (RESULT, RECORD_RESULTS.name)):
        raw = orjson.dumps(with_changes(document, time=time))
        with pytest.raises(
            InvalidEvent, match="time: Value error, time must fall within the years 1 to 9999"
        ):
            decode_event(topic, raw)
        assert_decodes_as_before(topic, raw)
