"""The validators `codec.decode_event` runs: the envelopes' own schemas (their fields, constraints,
validators and classes: the same instances come out), adapted to what a decoded message can hold.

- `document_validators`: for the document `orjson.loads` reads. Its objects always have string keys, so a
  `dict[str, Any]` (a source change's record) is taken as the dict orjson built instead of copied key by
  key; a value that is no object fails as `dict[str, Any]` fails (`dict_type`, "Input should be a valid
  dictionary"). Everything else validates as the envelope does, but for the time (below), which it may
  refuse where the envelope accepts: the caller has the envelope judge what it refuses.
- `json_validator`: straight from the message's bytes, with pydantic-core's parser (jiter), where no
  orjson document is built at all. jiter reads what orjson refuses or reads otherwise: `NaN` and
  `Infinity`, a number beyond a float's range as infinity (orjson refuses it), an integer beyond 64 bits
  exactly (orjson reads a float). Such a value can reach the event only through a field that takes any
  JSON value, an attribute the envelope ignores, or a float or integer field. So only a topic whose
  envelopes hold no `Any` and no float has one, built stricter than the envelope: no attribute beyond the
  model's fields, integers within 64 bits. Whatever orjson would read otherwise fails there, as does
  anything else wrong with the message, and the caller then decodes the document as before, which accepts
  it (an event with an attribute it ignores) or says why it is invalid, word for word.

Both paths take the envelope's `time` (a datetime, checked aware by `CloudEvent._time_is_aware`, then
converted to `datetime.UTC`) from a cache of the times validated before, keyed by their JSON text
(`_EventTimes`): a connector run stamps a page's or a run's changes with one time, and a result carries
its change's. A hit skips pydantic-core's parse, the validator's Python call and the `astimezone` from
pydantic-core's `TzInfo`; the same instant comes out, in `UTC` as before (valgrind, one decode: a source
change 70,700 -> 66,400 instructions, a record result 43,100 -> 39,200). A time that is no JSON string (a
number of seconds is valid) is refused there, and `codec.decode_document` then has the envelope's own
validator judge the document: whatever an adapted validator refuses is judged as before, word for word.

Checking every `Any` value as orjson would read it (a union of the JSON types) costs more in pydantic-core
than orjson and the copy it saves (96,000 instructions a source change against 84,000): a source change
takes the document path. A schema part not listed in `_adapted` (a before or wrap validator, one told the
input's mode, a list or tuple, a recursive model) leaves its topic on the envelope's own validation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic_core import SchemaValidator, core_schema

from schemas.envelope import CloudEvent

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
"""The integers orjson reads as integers (beyond them, a float)."""

_AS_IS = frozenset({"str", "enum", "datetime", "bool", "none"})
"""Schemas that validate a JSON value as they validate the Python value orjson reads from it."""


class NotAdaptable(Exception):
    """A schema holds a part `_adapted` does not know to be safe for the path asked for."""


def _is_object_of_anything(node: Mapping[str, Any]) -> bool:
    """A plain `dict[str, Any]`: no constraint beyond string keys."""
    extra = set(node) - {"type", "keys_schema", "values_schema", "metadata", "serialization"}
    return (
        not extra
        and node.get("keys_schema", {"type": "str"}) == {"type": "str"}
        and node.get("values_schema", {"type": "any"}) == {"type": "any"}
    )


_ORJSON_OBJECT = core_schema.custom_error_schema(
    core_schema.is_instance_schema(dict), custom_error_type="dict_type"
)
"""`dict[str, Any]` for a value orjson read: an object is a dict with string keys, taken as it is."""


_TIME_CHECK = getattr(CloudEvent._time_is_aware, "__func__")  # noqa: B009 (mypy knows no __func__)
"""The envelope's `time` validator (aware, then in UTC): `_adapted` gives it a cache of its results."""
_TIMES_KEPT = 4096
"""How many event times a cache keeps (it starts again when full): a connector run stamps all of a page's
changes, or all of a run's, with one time, and a result carries its change's."""


class _EventTimes(dict[str, datetime]):
    """Event time text -> the time the envelope's `time` validator makes of it (`validate`), for the texts
    met before: a hit is a dict look-up in C (about 0.1 µs) instead of pydantic-core's parse, a Python
    call of `CloudEvent._time_is_aware` and the `astimezone` from pydantic-core's `TzInfo` to `UTC`
    (about 0.7 µs alone). A text `validate` refuses raises its error and is not kept."""

    def __init__(self, validate: Callable[[str], datetime]) -> None:
        super().__init__()
        self._validate = validate

    def __missing__(self, text: str) -> datetime:
        moment = self._validate(text)
        if len(self) >= _TIMES_KEPT:
            self.clear()
        self[text] = moment
        return moment


def _event_time(node: Mapping[str, Any], config: Any) -> Any:
    """The envelope's `time` (`node`: its validator after a datetime) for both paths: a JSON string,
    looked up in its `_EventTimes`; anything else is refused, and the caller has the envelope judge it
    (a time as a number of seconds is valid)."""
    times = _EventTimes(SchemaValidator(dict(node), config, _use_prebuilt=False).validate_python)
    return core_schema.chain_schema(
        [core_schema.str_schema(strict=True), core_schema.no_info_plain_validator_function(times.__getitem__)]
    )


def _adapted(schema: Mapping[str, Any], *, straight: bool, config: Any = None) -> Any:
    """A copy of `schema` for the document path, or (`straight`) the stricter one for the bytes path;
    NotAdaptable for a part it does not know."""
    kind = schema["type"]
    node = dict(schema)
    if kind == "model":
        if node.get("custom_init") or node.get("root_model") or "post_init" in node:
            raise NotAdaptable(kind)
        node["schema"] = _adapted(node["schema"], straight=straight, config=node.get("config"))
    elif kind == "model-fields":
        if node.get("computed_fields") or "extras_schema" in node:
            raise NotAdaptable(kind)
        if straight:
            node["extra_behavior"] = "forbid"
        node["fields"] = {
            name: {**field, "schema": _adapted(field["schema"], straight=straight, config=config)}
            for name, field in node["fields"].items()
        }
    elif kind in ("default", "nullable"):
        node["schema"] = _adapted(node["schema"], straight=straight, config=config)
    elif kind == "function-after":
        if node["function"]["type"] != "no-info":  # one told the input's mode would be told "json"
            raise NotAdaptable(kind)
        if getattr(node["function"]["function"], "__func__", None) is _TIME_CHECK:
            return _event_time(node, config)
        node["schema"] = _adapted(node["schema"], straight=straight, config=config)
    elif kind == "dict" and _is_object_of_anything(node) and not straight:
        return _ORJSON_OBJECT
    elif kind == "int":
        if straight:
            node["ge"] = max(node.get("ge", _INT_MIN), _INT_MIN)
            node["le"] = min(node.get("le", _INT_MAX), _INT_MAX)
    elif kind == "literal":
        if not all(isinstance(value, str) for value in node["expected"]):
            raise NotAdaptable(kind)
    elif kind not in _AS_IS:
        raise NotAdaptable(kind)
    return node


def _validator(schema: core_schema.CoreSchema) -> SchemaValidator:
    # Not the models' own validators, which pydantic-core would otherwise reuse for their classes.
    return SchemaValidator(schema, _use_prebuilt=False)


def document_validators(envelopes: Mapping[str, type[BaseModel]]) -> dict[str, Callable[[Any], Any]]:
    """Event type -> a function from the document orjson read to its event (raising ValidationError for
    one it refuses: the envelope's own validation judges that one), for the event types (`type` ->
    envelope model) of a topic: as the module docstring says where the envelope's schema allows it, else
    the envelope's own validation."""
    validators: dict[str, Callable[[Any], Any]] = {}
    for name, model in envelopes.items():
        try:
            validators[name] = _validator(
                _adapted(model.__pydantic_core_schema__, straight=False)
            ).validate_python
        except NotAdaptable:
            validators[name] = model.__pydantic_validator__.validate_python
    return validators


def json_validator(envelopes: Mapping[str, type[BaseModel]]) -> Callable[[bytes], Any] | None:
    """A function from a message's bytes to its event, for a topic whose event types (`type` -> its
    envelope model) are `envelopes`: the envelope of the message's `type`, validated as the module
    docstring says. It raises ValueError (pydantic's ValidationError) for anything the document path
    must judge. None when an envelope's schema holds a part not known to be safe."""
    try:
        choices = {
            name: _adapted(model.__pydantic_core_schema__, straight=True) for name, model in envelopes.items()
        }
    except NotAdaptable:
        return None
    return _validator(core_schema.tagged_union_schema(choices, discriminator="type")).validate_json
