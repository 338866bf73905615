"""The store suites' shared fixtures."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own."""
    return f"t{uuid.uuid4().hex[:8]}"
