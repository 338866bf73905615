"""Validating answer data against the models, turning any mismatch into `UnexpectedResponse`."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from pipedrive_client.errors import UnexpectedResponse

T = TypeVar("T")
_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(kind: Any) -> TypeAdapter[Any]:
    """One adapter per kind: building one costs several times what validating a record does."""
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter


def parse_as(kind: type[T] | Any, data: Any, what: str) -> T:
    """`data` validated as `kind` (a model or a type such as `list[Model]`); `what` names it in the error."""
    try:
        parsed: T = _adapter(kind).validate_python(data)
    except ValidationError as failure:
        problem = failure.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "data"
        raise UnexpectedResponse(
            f"Unexpected response from Pipedrive: {what} has a bad {where} ({problem['type']})"
        ) from failure
    return parsed
