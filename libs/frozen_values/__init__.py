"""Frozen values built on a hot path: `frozen_value`, a frozen dataclass for values built once per message
or record.

A frozen dataclass's generated `__init__` sets each field with `object.__setattr__` (its own
`__setattr__` refuses), which costs about three times a plain class's `__init__`: a few µs per message
across the handful of values a message passes through. A `frozen_value` class is that same frozen
dataclass (equality, hash, repr, `replace`, assignments refused) whose `__init__` writes the fields
into the instance's `__dict__` at once. One helper for every such class, instead of a hand-written
`__init__` copied into each.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True)
def frozen_value(cls: type[T]) -> type[T]:
    """`@dataclass(frozen=True)`, with an `__init__` that sets the fields straight (same parameters,
    defaults and default factories; no `__post_init__` nor init-less fields)."""
    made = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(made)  # type: ignore[arg-type]
    if hasattr(made, "__post_init__") or any(not f.init or f.kw_only for f in fields):
        raise TypeError(f"{cls.__name__}: frozen_value takes plain fields only")
    names = [f.name for f in fields]
    scope: dict[str, Any] = {"_FACTORY": _FACTORY}
    parameters, made_values = [], []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            scope[f"_default_{f.name}"] = f.default
            parameters.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            scope[f"_factory_{f.name}"] = f.default_factory
            parameters.append(f"{f.name}=_FACTORY")
            made_values.append(f"    if {f.name} is _FACTORY: {f.name} = _factory_{f.name}()\n")
        else:
            parameters.append(f.name)
    assignments = "".join(f"    values[{name!r}] = {name}\n" for name in names)
    source = (
        f"def __init__(self, {', '.join(parameters)}):\n"
        + "".join(made_values)
        + "    values = self.__dict__\n"
        + (assignments or "    pass\n")
    )
    exec(source, scope)
    init = scope["__init__"]
    init.__qualname__ = f"{made.__qualname__}.__init__"
    made.__init__ = init  # type: ignore[method-assign]
    return made


class _Factory:
    """The default of a parameter whose field has a default factory (called when left out)."""

    def __repr__(self) -> str:
        return "<factory default>"


_FACTORY = _Factory()
