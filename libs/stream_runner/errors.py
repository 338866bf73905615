"""Error classes that decide what the runner does with a failing message."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.errors import KafkaError


class PermanentError(Exception):
    """A message that no retry can fix (bad data, a broken rule): it goes to the dead-letter topic."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    ConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    KafkaError,
)
"""Failures of the world around the message (network, database, broker): retried until they pass."""


def is_transient(error: BaseException) -> bool:
    """Whether retrying the same message can succeed."""
    return isinstance(error, TRANSIENT_ERRORS) and not isinstance(error, PermanentError)
