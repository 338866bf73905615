"""Dead-letter records: the original key and value, with headers naming where and why it failed."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.topics import dlq_topic_name
from stream_runner.messages import IncomingMessage, OutgoingMessage

_MAX_REASON = 2000


def dead_letter_for(message: IncomingMessage, service: str, error: BaseException) -> OutgoingMessage:
    """The DLQ record of a message that could not be decoded or applied (original bytes untouched)."""
    headers = (
        ("dlq.origin.topic", message.topic.encode()),
        ("dlq.origin.partition", str(message.partition).encode()),
        ("dlq.origin.offset", str(message.offset).encode()),
        ("dlq.error.class", type(error).__name__.encode()),
        ("dlq.error.message", str(error)[:_MAX_REASON].encode()),
        ("dlq.service", service.encode()),
        ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
    )
    return OutgoingMessage(
        topic=dlq_topic_name(service),
        key=(message.key or b"").decode("utf-8", errors="replace"),
        value=message.value or b"",
        headers=message.headers + headers,
    )
