"""The two backends every store suite runs against: the service's in-memory fakes and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")

BACKENDS = ["memory", pytest.param("postgres", marks=pytest.mark.integration)]
"""The parameters of a suite's store fixture (PostgreSQL's cases are integration tests)."""


def memory_or_postgres(request: pytest.FixtureRequest, memory: Callable[[], T]) -> T:
    """The fakes `memory` builds, or the module's `postgres_store` fixture (asked for only then)."""
    if request.param == "postgres":
        postgres: T = request.getfixturevalue("postgres_store")
        return postgres
    return memory()
