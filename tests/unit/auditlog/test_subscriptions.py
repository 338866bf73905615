"""The auditlog reads the topics whose events it records, and no other: every message of a topic it only
ignored would still cost it a fetch and a decode."""

from __future__ import annotations

from typing import Any, cast

from auditlog.activity_log_store import PostgresActivityLog
from auditlog.handlers import build_batch_handlers, build_handlers
from schemas.catalog import event_type
from schemas.topics import topics_consumed_by


def test_the_auditlog_subscribes_exactly_to_the_topics_of_the_events_it_handles() -> None:
    log = PostgresActivityLog(cast(Any, None), "auditlog")
    handled = {*build_handlers(log), *build_batch_handlers(log)}

    assert {t.name for t in topics_consumed_by("auditlog")} == {event_type(e).topic.name for e in handled}
