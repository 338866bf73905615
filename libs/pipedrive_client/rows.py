"""Listed records read without a model per record: what a sync emits of each record, checked as the
answer models check it.

A `RecordRow` holds a record's id, its update time and its attributes as JSON values: exactly what
`parse_as(model, item).model_dump(mode="json")` gives (the declared attributes first, in the model's
order, with their defaults when absent, then the attributes Pipedrive added, as sent). Building and
dumping a model costs about 6 µs per record, more than the rest of reading it; most records are
already in the form the dump gives (each declared attribute of its exact JSON type, times written
`YYYY-MM-DDTHH:MM:SSZ` as API v2 writes them), and for those the values are taken straight from the
parsed answer. Any other record (a number where a float is declared, a time with an offset or a
fraction, a wrong type, a missing required attribute) takes the model's validation, which converts
it or refuses it (`UnexpectedResponse`) exactly as before. `tests/unit/pipedrive_client/test_rows.py`
compares both ways on varied and odd records.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from pipedrive_client.models import Record
from pipedrive_client.shapes import parse_as

Values = dict[str, Any]
Reader = Callable[[Any], Values]
"""The record's values as the model's JSON dump gives them; raises `_NotPlain` when only the model's
validation can tell."""


@dataclass(slots=True)
class RecordRow:
    """One listed record: its id, update time and attributes as JSON values (`values`, what the
    record's model dumps as JSON). A value: never changed once read (not frozen, whose `__init__` costs
    three times a plain one's, about 1 µs per listed record)."""

    id: int
    update_time: datetime | None
    values: Values
    plain_time: bool = False
    """`values["update_time"]` is `update_time` as API v2 writes times (`YYYY-MM-DDTHH:MM:SSZ`, checked
    once when the row was read): a whole UTC second whose text is its stamp, as the model dumps it."""

    @classmethod
    def of(cls, record: Record) -> RecordRow:
        """The row of a record read through its model."""
        return cls(record.id, record.update_time, record.model_dump(mode="json"))

    def reference(self, attribute: str) -> int | None:
        """The id an attribute such as `org_id` points to (None when it holds no id)."""
        value = self.values.get(attribute)
        return value if isinstance(value, int) else None


class _NotPlain(Exception):
    """The record is not in the dumped form: only its model's validation can read (or refuse) it."""


_ABSENT = object()
V2_TIME_TEXT = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
"""A time as API v2 writes it: second precision, UTC, `Z` (a year from 1000)."""
_EXACT_FLOAT = 2**53


def _time(value: Any) -> Any:
    """A time as API v2 writes it (second precision, UTC, `Z`), which the model dumps unchanged."""
    if type(value) is not str or V2_TIME_TEXT.fullmatch(value) is None:
        raise _NotPlain
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise _NotPlain from None
    return value


def _float(value: Any) -> Any:
    """An integer where a float is declared: the model holds (and dumps) it as a float."""
    if type(value) is int and -_EXACT_FLOAT <= value <= _EXACT_FLOAT:
        return float(value)
    raise _NotPlain


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kept: frozenset[type]
    """Values of these exact types are dumped as they are."""
    convert: Callable[[Any], Any] | None
    """Otherwise: the dumped value (raises `_NotPlain`)."""
    default: Callable[[], Any] | None
    """The value of an absent attribute (None: required)."""


_SIMPLE: dict[Any, frozenset[type]] = {
    int: frozenset({int}),
    bool: frozenset({bool}),
    str: frozenset({str}),
    float: frozenset({float}),
    datetime: frozenset(),
    dict[str, Any]: frozenset({dict}),
}
_CONVERT: dict[Any, Callable[[Any], Any]] = {float: _float, datetime: _time}


def _field(name: str, annotation: Any, default: Callable[[], Any] | None) -> _Field | None:
    """How a declared attribute is read; None when its annotation has no plain reading here."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if union else (annotation,)
    nullable = type(None) in options
    kinds = [option for option in options if option is not type(None)]
    if len(kinds) != 1:
        return None
    kind = kinds[0]
    convert: Callable[[Any], Any] | None = _CONVERT.get(kind)
    if kind in _SIMPLE:
        kept = _SIMPLE[kind]
    elif typing.get_origin(kind) is list and _is_model(item := typing.get_args(kind)[0]):
        nested = reader_of(item)
        if nested is None:
            return None
        kept, convert = frozenset(), _list_of(nested)
    else:
        return None
    return _Field(name, kept | {type(None)} if nullable else kept, convert, default)


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _list_of(read: Reader) -> Callable[[Any], Any]:
    def read_list(value: Any) -> Any:
        if type(value) is not list:
            raise _NotPlain
        return [read(item) for item in value]

    return read_list


def _default(field_info: Any) -> Callable[[], Any] | None:
    if field_info.is_required():
        return None
    if field_info.default_factory is not None:
        factory: Callable[[], Any] = field_info.default_factory
        return factory
    value = field_info.default
    if value is not None and type(value) not in (bool, int, str, float):
        return None  # a mutable default: the model's own reading
    return lambda: value


_READERS: dict[type[BaseModel], Reader | None] = {}


def reader_of(model: type[BaseModel]) -> Reader | None:
    """The plain reader of a model's records (None when a declared attribute has no plain reading, or
    the model does not keep attributes it does not declare)."""
    if model in _READERS:
        return _READERS[model]
    fields: list[_Field] = []
    plain = model.model_config.get("extra") == "allow"
    for name, info in model.model_fields.items():
        default = _default(info)
        read = _field(name, info.annotation, default) if default is not None or info.is_required() else None
        if read is None or info.alias not in (None, name) or info.validation_alias is not None:
            plain = False
            break
        fields.append(read)
    reader = _compile(fields) if plain else None
    _READERS[model] = reader
    return reader


_MAX_SHAPES = 256
"""Key orders whose added attributes a reader keeps (a page's records mostly share one or a few)."""


def _compile(fields: Sequence[_Field]) -> Reader:
    declared = frozenset(field.name for field in fields)
    steps = tuple((f.name, f.kept, f.convert, f.default) for f in fields)
    added: dict[tuple[str, ...], tuple[str, ...] | None] = {}
    """Per key order of a record: its attributes the model does not declare, in that order (None when
    one of them is a name pydantic reads itself), found once rather than per record."""

    def added_of(keys: tuple[str, ...]) -> tuple[str, ...] | None:
        names: tuple[str, ...] | None = tuple(key for key in keys if key not in declared)
        if names is not None and any(key[:1] == "_" for key in names):
            names = None  # pydantic's own reading of such names
        if len(added) >= _MAX_SHAPES:
            added.clear()
        added[keys] = names
        return names

    def read(item: Any) -> Values:
        if type(item) is not dict:
            raise _NotPlain
        values: Values = {}
        for name, kept, convert, default in steps:
            value = item.get(name, _ABSENT)
            if value is _ABSENT:
                if default is None:
                    raise _NotPlain
                values[name] = default()
            elif type(value) in kept:
                values[name] = value
            elif convert is not None:
                values[name] = convert(value)
            else:
                raise _NotPlain
        keys = tuple(item)
        names = added[keys] if keys in added else added_of(keys)
        if names is None:
            raise _NotPlain
        for key in names:
            values[key] = item[key]
        return values

    return read


def rows_of(model: type[Record], items: Sequence[Any], what: str) -> list[RecordRow]:
    """The items (a page's parsed `data`) as rows of `model`'s records; the first item the model refuses
    raises `UnexpectedResponse` naming `what`, as `parse_as` does."""
    read = reader_of(model)
    rows: list[RecordRow] = []
    for item in items:
        if read is not None:
            try:
                values = read(item)
                written = values["update_time"]
                if written is None:
                    rows.append(RecordRow(values["id"], None, values))
                else:  # read checked it as API v2 writes times (a declared time of every record)
                    rows.append(RecordRow(values["id"], datetime.fromisoformat(written), values, True))
                continue
            except _NotPlain:
                pass
        rows.append(RecordRow.of(parse_as(model, item, what)))
    return rows
