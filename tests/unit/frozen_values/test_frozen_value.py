"""`frozen_value`: the frozen dataclass it makes behaves as `@dataclass(frozen=True)` does."""

from __future__ import annotations

import dataclasses

import pytest

from frozen_values import frozen_value


@frozen_value
class Sample:
    name: str
    count: int = 3
    items: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Reference:
    name: str
    count: int = 3
    items: list[int] = dataclasses.field(default_factory=list)


def test_a_frozen_value_is_built_compared_and_refused_as_a_frozen_dataclass() -> None:
    cases: list[tuple[tuple[object, ...], dict[str, object]]] = [
        (("a",), {}),
        (("a", 5), {}),
        (("a",), {"items": [1]}),
        ((), {"name": "b", "count": 0}),
    ]
    for args, kwargs in cases:
        made, reference = Sample(*args, **kwargs), Reference(*args, **kwargs)  # type: ignore[arg-type]
        assert dataclasses.astuple(made) == dataclasses.astuple(reference)
        assert repr(made).replace("Sample", "Reference") == repr(reference)
    assert Sample("a") == Sample("a", 3, []) and Sample("a") != Sample("a", 4)
    assert Sample("a").items is not Sample("a").items  # a new default per instance
    assert hash(Sample("a", 1, None)) == hash(Sample("a", 1, None))  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Sample("a").count = 4  # type: ignore[misc]
    assert dataclasses.replace(Sample("a"), count=9) == Sample("a", 9)
    with pytest.raises(TypeError):
        Sample()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample("a", 1, [], 2)  # type: ignore[call-arg]


def test_a_class_with_a_post_init_is_refused() -> None:
    with pytest.raises(TypeError):

        @frozen_value
        class Checked:
            name: str

            def __post_init__(self) -> None: ...
