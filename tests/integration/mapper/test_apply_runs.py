"""The mapper's apply runs, through its handlers on the real PostgreSQL: one report per connector run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from mapper.bootstrap import build_handlers
from mapper.handlers import MapperHandlers, dead_lettered_message
from schemas.catalog import build_event
from schemas.envelope import CloudEvent
from schemas.events.common import Direction, SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus
from schemas.keys import run_key, source_change_key
from schemas.topics import RECORD_RESULTS, SOURCE_CHANGES, SYNC_RUNS
from stream_runner.messages import Handled, IncomingMessage

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
RUN = "run-7"


class ConnectorRun:
    """Builds what one connector run sends: source changes correlated with the run, then its end."""

    def __init__(self, tenant: str, run_id: str = RUN) -> None:
        self.tenant, self.run_id = tenant, run_id

    def change(
        self, pipedrive_id: int, minutes: int, website: str, origin: ChangeOrigin = ChangeOrigin.POLL
    ) -> CloudEvent[Any]:
        at = T0 + timedelta(minutes=minutes)
        change = SourceChange(
            object=SyncObject.ORGANIZATION,
            pipedrive_id=pipedrive_id,
            action=ChangeAction.UPSERTED,
            update_time=at,
            record={"id": pipedrive_id, "name": f"Org {pipedrive_id}", "website": website},
            origin=origin,
        )
        key = source_change_key(self.tenant, SyncObject.ORGANIZATION, pipedrive_id)
        return build_event(
            change, tenant=self.tenant, subject=key, source="/itest", id_parts=(key, at), time=at,
            correlationid=self.run_id,
        )  # fmt: skip

    def finished(
        self, emitted: int | None, service: str = "connector", kind: RunKind = RunKind.SYNC
    ) -> CloudEvent[Any]:
        finished = RunFinished(
            run_id=self.run_id,
            service=service,
            kind=kind,
            direction=Direction.TO_ABM,
            objects=(SyncObject.ORGANIZATION,),
            started_at=T0,
            finished_at=T0 + timedelta(minutes=1),
            counts=RunCounts(created=emitted or 0),
            status=RunStatus.SUCCESS,
            emitted=emitted,
        )
        return build_event(
            finished, tenant=self.tenant, subject=run_key(self.tenant, self.run_id), source="/itest",
            id_parts=(self.run_id, "finished", service), time=T0, correlationid=self.run_id,
        )  # fmt: skip


def message(event: CloudEvent[Any], topic: str) -> IncomingMessage:
    return IncomingMessage(topic, 0, 0, event.subject.encode(), b"")


def run_events(handled: list[Handled]) -> list[dict[str, Any]]:
    """The sync-runs events among the handlers' outputs, decoded."""
    return [orjson.loads(m.value) for h in handled for m in h.outputs if m.topic == SYNC_RUNS.name]


@pytest.fixture
def handlers(pg_pool: asyncpg.Pool, mapper_schema: str) -> MapperHandlers:
    return build_handlers(pg_pool, mapper_schema)


@pytest.fixture
def run() -> ConnectorRun:
    return ConnectorRun(f"t{uuid.uuid4().hex[:8]}")


async def apply(handlers: MapperHandlers, events: list[CloudEvent[Any]]) -> list[Handled]:
    return list(await handlers.source_changed_batch([(e, message(e, SOURCE_CHANGES.name)) for e in events]))


async def finish(handlers: MapperHandlers, event: CloudEvent[Any]) -> Handled:
    return await handlers.run_finished(event, message(event, SYNC_RUNS.name))


async def test_the_run_is_reported_when_its_end_arrives_after_every_change(
    handlers: MapperHandlers, run: ConnectorRun
) -> None:
    changes = [run.change(1, 0, "acme.io"), run.change(2, 0, "globex.io"), run.change(3, 1, "www.acme.io")]
    applied = await apply(handlers, changes[:2]) + await apply(handlers, changes[2:])
    # The batch that applied the run's first record started the apply run; its records are filed under it.
    [began] = run_events(applied)
    assert (began["type"], began["data"]["run_id"]) == ("psync.run.started", f"apply-{RUN}")
    assert began["data"]["applies_run_id"] == RUN and began["data"]["objects"] == ["organization"]
    results = [
        orjson.loads(m.value)["data"] for h in applied for m in h.outputs if m.topic == RECORD_RESULTS.name
    ]
    assert [r["run_id"] for r in results] == [f"apply-{RUN}"] * 3

    ended = await finish(handlers, run.finished(emitted=3))

    started, finished = run_events([ended])
    assert [started["type"], finished["type"]] == ["psync.run.started", "psync.run.finished"]
    assert started["id"] == began["id"] and finished["data"]["applies_run_id"] == RUN
    assert started["data"]["run_id"] == finished["data"]["run_id"] == f"apply-{RUN}"
    assert finished["data"]["kind"] == "apply" and finished["data"]["service"] == "mapper"
    # The third change found acme.io by its key, an account linked to the first: a duplicate, skipped.
    assert finished["data"]["counts"] == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 1,
        "failed": 0,
    }
    assert finished["data"]["status"] == "Warning"
    assert finished["data"]["objects"] == ["organization"]
    assert finished["subject"] == f"{run.tenant}:apply-{RUN}"
    assert finished["correlationid"] == RUN


async def test_the_run_is_reported_with_its_last_change_when_its_end_came_first(
    handlers: MapperHandlers, run: ConnectorRun
) -> None:
    first = run.change(1, 0, "acme.io")
    await apply(handlers, [first])
    ended = await finish(handlers, run.finished(emitted=2))
    assert run_events([ended]) == []

    # The same version again under a new event id (a re-read): nothing changes, the record is unchanged.
    again = build_event(
        first.data, tenant=run.tenant, subject=first.subject, source="/itest", id_parts=("re-read",),
        time=first.time, correlationid=RUN,
    )  # fmt: skip
    applied = await apply(handlers, [again])

    _, finished = run_events(applied)
    assert finished["data"]["counts"] == {
        "created": 1, "updated": 0, "unchanged": 1, "skipped": 0, "failed": 0,
    }  # fmt: skip
    assert finished["data"]["status"] == "Success"


async def test_redeliveries_neither_count_twice_nor_report_twice(
    handlers: MapperHandlers, run: ConnectorRun, pg_pool: asyncpg.Pool, mapper_schema: str
) -> None:
    changes = [run.change(n, n, f"org{n}.io") for n in range(1, 5)]
    began = run_events(await apply(handlers, changes[:3]))
    assert run_events(await apply(handlers, changes[:3])) == began  # a redelivered batch re-sends its start
    ended = await finish(handlers, run.finished(emitted=4))
    assert run_events([ended]) == []
    reported = run_events(await apply(handlers, changes[3:]))

    redelivered = await apply(handlers, changes)
    ended_again = await finish(handlers, run.finished(emitted=4))

    assert reported[1]["data"]["counts"] == {
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    # A redelivery re-sends the very same start and report; nothing else reports again.
    assert run_events(redelivered) == began + reported
    assert ended_again.duplicate and run_events([ended_again]) == []
    row = await pg_pool.fetchrow(
        f"SELECT created, updated, skipped, failed, emitted FROM {mapper_schema}.apply_runs"
        " WHERE tenant_id = $1 AND source_run_id = $2",
        run.tenant,
        RUN,
    )
    assert row is not None and tuple(row) == (4, 0, 0, 0, 4)


async def test_runs_of_other_services_and_runs_that_emitted_nothing_are_not_reported(
    handlers: MapperHandlers, run: ConnectorRun, pg_pool: asyncpg.Pool, mapper_schema: str
) -> None:
    pusher_run = await finish(handlers, run.finished(emitted=3, service="pusher"))
    empty_run = await finish(handlers, ConnectorRun(run.tenant, "run-empty").finished(emitted=0))
    unknown = await finish(handlers, ConnectorRun(run.tenant, "run-old").finished(emitted=None))

    assert run_events([pusher_run, empty_run, unknown]) == []
    rows = await pg_pool.fetch(
        f"SELECT source_run_id FROM {mapper_schema}.apply_runs WHERE tenant_id = $1", run.tenant
    )
    assert [r["source_run_id"] for r in rows] == ["run-empty"]


async def test_a_dead_lettered_change_counts_once_as_failed_and_can_complete_its_run(
    handlers: MapperHandlers, run: ConnectorRun
) -> None:
    changes = [run.change(1, 0, "acme.io"), run.change(2, 0, "globex.io"), run.change(3, 0, "initech.io")]
    await apply(handlers, changes[:2])
    await finish(handlers, run.finished(emitted=3))
    poison = changes[2]

    letter = await handlers.source_change_dead_lettered(
        poison, message(poison, SOURCE_CHANGES.name), ValueError("broken")
    )
    again = await handlers.source_change_dead_lettered(
        poison, message(poison, SOURCE_CHANGES.name), ValueError("broken")
    )

    [result] = [orjson.loads(m.value)["data"] for m in letter.outputs if m.topic == RECORD_RESULTS.name]
    assert (result["outcome"], result["message"]) == ("failed", dead_lettered_message(ValueError()))
    _, finished = run_events([letter])
    assert finished["data"]["counts"] == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
    }
    assert finished["data"]["status"] == "Warning"
    assert again.duplicate and [m.value for m in again.outputs] == [m.value for m in letter.outputs]


async def test_webhook_changes_of_an_hour_are_reported_as_the_apply_run_of_their_window(
    handlers: MapperHandlers,
) -> None:
    window = ConnectorRun(f"t{uuid.uuid4().hex[:8]}", "webhooks-2026-11-01T09")
    changes = [
        window.change(1, 0, "acme.io", ChangeOrigin.WEBHOOK),
        window.change(2, 5, "b.io", ChangeOrigin.WEBHOOK),
    ]

    applied = await apply(handlers, changes)
    end = window.finished(2, kind=RunKind.WEBHOOK)
    reported = await handlers.run_finished(end, message(end, SYNC_RUNS.name))

    [began] = run_events(applied)
    started, finished = run_events([reported])
    assert began["id"] == started["id"]
    assert started["data"]["run_id"] == finished["data"]["run_id"] == "apply-webhooks-2026-11-01T09"
    assert finished["data"]["counts"]["created"] == 2 and finished["data"]["status"] == "Success"
