"""A two-way churn for PSYNC_FAULT_CHURN_S seconds (600 by default): 0 ping-pong writes.

The whole product runs as processes on private PostgreSQL and Kafka, against an in-process sandbox whose
company has two users: the sync is connected with the first one's API token, the second one edits in
Pipedrive with their own. PSYNC_FAULT_CHURN_RECORDS organizations (one domain each) are imported first;
then auto-push is turned on (organizations and persons both ways, names and phones overwritten both
ways: the most recent change wins) and webhooks are on. For the churn's length, at once:

- the ABM platform publishes on its topics, one signal every PSYNC_FAULT_CHURN_PACE_S seconds: companies
  revealed (new ones, and known ones again under a new name), contacts enriched (new ones, and known ones
  again with a new phone and job title) and engagement scores moved;
- the person in Pipedrive edits organizations' names and persons' names and phones through the API,
  one edit every two paces; each edit comes back to the sync as a webhook, and so does each of the sync's
  own writes (its echo).

Once everything is applied and quiet, the sandbox's record of every write it served (who, the body, the
record before and after) and the topics give the figures; ping-pong is defined in tests/faults/ping_pong.py:
a sync write that restates what Pipedrive held or has no ABM signal of its own, and an ABM record the
mapper created or changed from an echo of our own push (but for an echo that overtook its signal or push
result, and one of a write that left the same second as an earlier write of the record: the mapper leaves
those to the echo by rule). Both must be 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from pydantic import BaseModel

from pipedrive_sandbox import SandboxConfig, SandboxHandle, create_app
from pipedrive_sandbox.app_keys import STATE
from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.store import Entity
from schemas.catalog import build_event, event_type_of
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched, ScoreChanged
from schemas.events.common import SyncObject
from schemas.keys import record_key
from schemas.topics import (
    BULK_SOURCE_CHANGES,
    COMPANY_REVEALED,
    CONTACT_ENRICHED,
    PUSH_RESULTS,
    RECORD_RESULTS,
    SCORE_CHANGED,
    SOURCE_CHANGES,
)
from tests.faults.conftest import FaultReport
from tests.faults.ping_pong import (
    EchoApplied,
    Write,
    echoes,
    pair_push_results,
    restated,
    same_second_writes,
    shared_versions,
    uncaused,
    write_kind,
)
from tests.outages.private_infra import PrivateKafka, PrivatePostgres
from tests.outages.stack import ImportStack
from tests.pipedrive_client.sandbox_server import Handler, RecordingSandbox
from tests.support.conditions import eventually
from tests.support.kafka_offsets import end_offsets, keyed_values_since
from tests.topic_namespace import NamespacedProducer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

CHURN_S = float(os.environ.get("PSYNC_FAULT_CHURN_S", "600"))
RECORDS = int(os.environ.get("PSYNC_FAULT_CHURN_RECORDS", "200"))
PACE_S = float(os.environ.get("PSYNC_FAULT_CHURN_PACE_S", "0.5"))
SETTLE_WITHIN_S = 900.0
TOPICS_READ = (BULK_SOURCE_CHANGES, SOURCE_CHANGES, RECORD_RESULTS, PUSH_RESULTS)
ABM_TOPICS = (COMPANY_REVEALED.name, CONTACT_ENRICHED.name, SCORE_CHANGED.name)
WRITING = {"POST", "PATCH", "PUT", "DELETE"}
RECORD_PATH = re.compile(r"^/api/v2/(organizations|persons)(?:/(\d+))?$")
BOTH_WAYS = {"create_in_pipedrive": True, "update_in_pipedrive": True, "create_in_abm": True,
             "update_in_abm": True}  # fmt: skip


def _both(abm: str, pipedrive: str, mode: str = "overwrite") -> dict[str, str]:
    return {"abm_field": abm, "pipedrive_field": pipedrive, "to_pipedrive": mode, "to_abm": mode}


SETTINGS = {
    "objects": {
        "organization": {
            "directions": BOTH_WAYS,
            "fields": [_both("name", "name"), _both("website", "website", "fill")],
        },
        "person": {
            "directions": BOTH_WAYS,
            "fields": [
                _both("name", "name"),
                _both("email", "emails", "fill"),
                _both("phone", "phones"),
                _both("organization", "org_id", "fill"),
            ],
        },
    },
    "auto_push": {"enabled": True},
}


@dataclass
class ObservedSandbox:
    """The sandbox, and every write to an organization or a person it served."""

    recording: RecordingSandbox
    editor_token: str
    writes: list[Write] = field(default_factory=list)


def _who(request: web.Request, sync_token: str, editor_token: str) -> str:
    token = request.headers.get("x-api-token") or request.query.get("api_token")
    return {sync_token: "sync", editor_token: "editor"}.get(token or "", "other")


@contextlib.asynccontextmanager
async def observed_sandbox(config: SandboxConfig) -> AsyncIterator[ObservedSandbox]:
    """A sandbox on a free port that keeps, for every write to a record, who made it, the body, and the
    record before and after (the ledger has neither bodies nor records)."""
    app = create_app(config)
    state = app[STATE]
    editor = next(u for u in state.account.users.values() if u.api_token != config.api_token)
    observed = ObservedSandbox(RecordingSandbox(SandboxHandle("", state)), editor.api_token)

    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = RECORD_PATH.match(request.path)
        if request.method not in WRITING or path is None:
            return await handler(request)
        entity = Entity.ORGANIZATION if path[1] == "organizations" else Entity.PERSON
        table = state.tables[entity]
        record_id = int(path[2]) if path[2] else None
        held = table.records.get(record_id) if record_id is not None else None
        before = copy.deepcopy(held.data) if held is not None else None
        body = orjson.loads(await request.read() or b"{}")
        at = time.monotonic()
        response = await handler(request)
        if record_id is None and response.status < 300 and isinstance(response, web.Response):
            record_id = int(orjson.loads(response.body)["data"]["id"])  # type: ignore[arg-type]
        after = table.records.get(record_id) if record_id is not None else None
        write = Write(
            seq=len(observed.writes), at=at, who=_who(request, config.api_token, editor.api_token),
            entity=entity.value, record_id=record_id, method=request.method, body=body, before=before,
            after=copy.deepcopy(after.data) if after is not None else None, status=response.status,
        )  # fmt: skip
        observed.writes.append(write)
        return response

    app.middlewares.insert(0, observe)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    observed.recording.handle.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield observed
    finally:
        await runner.cleanup()


@dataclass
class AbmPlatform:
    """The ABM platform's side: publishes signals, remembers when (per record) and what."""

    stack: ImportStack
    producer: NamespacedProducer
    rng: random.Random
    domains: list[str]
    emails: list[str] = field(default_factory=list)
    signals_at: dict[tuple[str, str | None], list[float]] = field(default_factory=dict)
    sent: Counter[str] = field(default_factory=Counter)

    async def publish(self, payload: BaseModel, obj: SyncObject, key: str) -> None:
        tenant = self.stack.tenant
        subject = record_key(tenant, obj, key)
        event = build_event(
            payload, tenant=tenant, subject=subject, source="/faults/churn",
            id_parts=(subject, sum(self.sent.values())), time=datetime.now(UTC),
        )  # fmt: skip
        self.signals_at.setdefault((obj.value, key), []).append(time.monotonic())
        topic = event_type_of(payload).topic.name
        await self.producer.send_and_wait(topic, encode_event(event), key=subject.encode())

    async def one(self) -> None:
        """One signal, chosen at random."""
        n, now, kind = sum(self.sent.values()), datetime.now(UTC), self.rng.random()
        if kind < 0.15 or not self.domains:
            domain = f"revealed{n}-churn.io"
            self.domains.append(domain)
            await self.publish(CompanyRevealed(domain=domain, name=f"Revealed {n}", revealed_at=now),
                               SyncObject.ORGANIZATION, domain)  # fmt: skip
            self.sent["companies revealed (new)"] += 1
        elif kind < 0.3:
            domain = self.rng.choice(self.domains)
            await self.publish(CompanyRevealed(domain=domain, name=f"Renamed {n}", revealed_at=now),
                               SyncObject.ORGANIZATION, domain)  # fmt: skip
            self.sent["companies revealed again (new name)"] += 1
        elif kind < 0.6:
            again = bool(self.emails) and self.rng.random() < 0.5
            email = self.rng.choice(self.emails) if again else f"contact{n}@{self.rng.choice(self.domains)}"
            if not again:
                self.emails.append(email)
            contact = ContactEnriched(
                email=email, name=f"Contact {n}", phone=f"+1555{n:07d}", job_title=f"Title {n}",
                company_domain=email.split("@")[1], enriched_at=now,
            )  # fmt: skip
            await self.publish(contact, SyncObject.PERSON, email)
            self.sent["contacts enriched (again)" if again else "contacts enriched (new)"] += 1
        else:
            domain = self.rng.choice(self.domains)
            score = ScoreChanged(domain=domain, score=self.rng.randint(0, 100), changed_at=now)
            await self.publish(score, SyncObject.ORGANIZATION, domain)
            self.sent["engagement scores changed"] += 1


@dataclass
class PipedriveEditor:
    """The second user of the company, editing records through the API with their own token."""

    sandbox: ObservedSandbox
    rng: random.Random
    done: Counter[str] = field(default_factory=Counter)

    async def call(self, http: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> int:
        """One call; waits out a 429 as Pipedrive's headers say, as a client must."""
        url = self.sandbox.recording.base_url + path
        for _ in range(10):
            async with http.request(method, url, json=body) as answer:
                if answer.status != 429:
                    return answer.status
                wait = answer.headers.get("retry-after") or answer.headers.get("x-ratelimit-reset")
                await asyncio.sleep(min(float(wait or 1), 10.0))
        return 429

    async def one(self, http: aiohttp.ClientSession) -> None:
        """One edit of a live organization's name, or of a live person's name or phone."""
        state = self.sandbox.recording.handle.state
        n = sum(self.done.values())
        persons = [r.id for r in state.tables[Entity.PERSON].live()]
        if persons and self.rng.random() < 0.4:
            person = self.rng.choice(persons)
            if self.rng.random() < 0.5:
                body: dict[str, Any] = {"name": f"Edited Person {n}"}
            else:
                body = {"phones": [{"value": f"+4930{n:07d}", "primary": True, "label": "work"}]}
            kind = f"person {next(iter(body))} edited"
            status = await self.call(http, "PATCH", f"/api/v2/persons/{person}", body)
        else:
            organization = self.rng.choice([r.id for r in state.tables[Entity.ORGANIZATION].live()])
            kind = "organization name edited"
            body = {"name": f"Edited Org {n}"}
            status = await self.call(http, "PATCH", f"/api/v2/organizations/{organization}", body)
        self.done[kind if status < 300 else f"{kind}: {status}"] += 1


def _one_domain_each(sandbox: ObservedSandbox) -> list[str]:
    """Give every seeded organization a domain of its own (which of two sharing one an import links is a
    race); their domains."""
    state = sandbox.recording.handle.state
    user = next(iter(state.account.users))
    domains = []
    for record in list(state.tables[Entity.ORGANIZATION].live()):
        domains.append(f"organization{record.id}-churn.io")
        state.entities.update(Entity.ORGANIZATION, record.id, {"website": f"https://{domains[-1]}"}, user,
                              ChangeSource.APP)  # fmt: skip
    return domains


async def _churn(abm: AbmPlatform, editor: PipedriveEditor, seconds: float) -> None:
    """Both sides at once, each at its pace, for `seconds`."""
    ends = time.monotonic() + seconds

    async def abm_side() -> None:
        while time.monotonic() < ends:
            await abm.one()
            await asyncio.sleep(PACE_S)

    async def pipedrive_side() -> None:
        headers = {"x-api-token": editor.sandbox.editor_token}
        async with aiohttp.ClientSession(headers=headers) as http:
            while time.monotonic() < ends:
                await editor.one(http)
                await asyncio.sleep(2 * PACE_S)

    await asyncio.gather(abm_side(), pipedrive_side())


async def _figures_now(stack: ImportStack, sandbox: ObservedSandbox) -> tuple[int, ...]:
    s, abm_topics = stack.suffix, "', '".join(ABM_TOPICS)
    return (
        await stack.count(
            f"SELECT count(*) FROM pusher_{s}.inbox WHERE tenant_id = $1 AND topic IN ('{abm_topics}')"
        ),
        await stack.count(f"SELECT count(*) FROM pusher_{s}.parked_pushes WHERE tenant_id = $1"),
        await stack.count(f"SELECT count(*) FROM connector_{s}.webhook_hints WHERE tenant_id = $1"),
        len({orjson.loads(value)["id"] for _, value in await stack.emitted()}),
        await stack.applied(),
        len(sandbox.writes),
    )


async def _quiet(stack: ImportStack, sandbox: ObservedSandbox, signals: int) -> None:
    """Until the pusher took every signal (none parked), no webhook hint is left, the mapper applied every
    source change, and nothing moved (no write to Pipedrive either) for 20 s."""
    seen: list[Any] = [0.0, None]

    async def still() -> bool:
        figures, now = await _figures_now(stack, sandbox), time.monotonic()
        if figures != seen[1]:
            seen[:] = [now, figures]
        taken, parked, hints, emitted, applied, _ = figures
        return taken == signals and parked == hints == 0 and applied >= emitted and now - seen[0] >= 20

    await eventually(still, bool, within_s=SETTLE_WITHIN_S, what="every signal pushed, every change applied")


async def _since(stack: ImportStack, marks: dict[str, Any], topic: Any) -> list[dict[str, Any]]:
    """The tenant's events on `topic` since the mark."""
    values = await keyed_values_since(stack.bootstrap, topic, marks[topic.name])
    events = [orjson.loads(value) for _, value in values if value]
    return [e for e in events if e.get("tenantid") == stack.tenant]


async def _mapper_applied_at(stack: ImportStack) -> dict[str, datetime]:
    """When the mapper applied each of the tenant's events (its inbox)."""
    assert stack.pool is not None
    rows = await stack.pool.fetch(
        f"SELECT event_id, applied_at FROM mapper_{stack.suffix}.inbox WHERE tenant_id = $1", stack.tenant
    )
    return {row["event_id"]: row["applied_at"] for row in rows}


def _echo_applied(
    result: dict[str, Any],
    write: Write,
    paired: dict[int, tuple[str, str]],
    applied_at: dict[str, datetime],
    same_second: set[int],
) -> EchoApplied:
    """The mapper's outcome for an echo, whether it came after the write's signal and push result, and
    whether the write is a same-second one."""
    echo_at = applied_at.get(result["causationid"])
    push_result, signal = paired.get(write.seq, (None, None))

    def before_the_echo(event_id: str | None) -> bool | None:
        at = applied_at.get(event_id or "")
        return None if at is None or echo_at is None else at < echo_at

    return EchoApplied(
        result["data"]["outcome"], before_the_echo(signal), before_the_echo(push_result),
        same_second=write.seq in same_second,
    )  # fmt: skip


def _why(applied: EchoApplied) -> str:
    """Why an echo that changed the store did: ping-pong, a same-second write, or a race."""
    if applied.ping_pong:
        return "ping-pong"
    return "same second" if applied.same_second else "race"


def _ping_pong_detail(write: Write, result: dict[str, Any]) -> dict[str, Any]:
    """Which write's echo changed which ABM record (to look into in the services' logs)."""
    return {
        "write": write_kind(write), "pipedrive_id": write.record_id, "abm_id": result["data"].get("abm_id"),
        "update_time": (write.after or {}).get("update_time"), "echo_event": result.get("causationid"),
    }  # fmt: skip


async def test_a_two_way_churn_makes_no_ping_pong_write(
    private_postgres: PrivatePostgres, private_kafka: PrivateKafka, fault_report: FaultReport, tmp_path: Path
) -> None:
    length = f"{CHURN_S / 60:.0f} min" if CHURN_S >= 120 else f"{CHURN_S:.0f} s"
    name = f"two-way churn, {length}: reveals, enrichments, scores and Pipedrive edits"
    started = time.monotonic()
    config = SandboxConfig(
        organizations=RECORDS, persons_per_organization=0, deals_per_organization=0, seats=2,
        daily_budget=100_000_000,
    )  # fmt: skip
    async with observed_sandbox(config) as sandbox:
        domains = _one_domain_each(sandbox)
        stack = ImportStack(private_postgres.url, private_kafka.bootstrap, sandbox.recording, tmp_path)
        try:
            await stack.start()
            run_id = await stack.start_import()
            await eventually(lambda: stack.run_of(run_id), lambda r: r.get("state") == "finished",
                             within_s=SETTLE_WITHIN_S, what="the import")  # fmt: skip
            await stack.settled(within_s=SETTLE_WITHIN_S)
            assert (await stack.call("connector", "PUT", "/v1/settings", SETTINGS))[0] == 200
            assert (await stack.call("connector", "PUT", "/v1/webhooks", {"enabled": True}))[0] == 200
            await eventually(
                lambda: stack.call("pusher", "GET", "/v1/push/mapping?object=person"),
                lambda m: m[1].get("directions", {}).get("create_in_pipedrive") is True,
                within_s=120,
                what="the pusher has the settings",
            )
            marks = {t.name: await end_offsets(stack.bootstrap, t) for t in TOPICS_READ}
            writes_before = len(sandbox.writes)
            producer = NamespacedProducer(
                bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=True
            )
            await producer.start()
            try:
                abm = AbmPlatform(stack, producer, random.Random(14), domains)
                editor = PipedriveEditor(sandbox, random.Random(41))
                churn_started = time.monotonic()
                await _churn(abm, editor, CHURN_S)
                churned_s = time.monotonic() - churn_started
            finally:
                await producer.stop()
            await _quiet(stack, sandbox, sum(abm.sent.values()))
            changes = [
                *await _since(stack, marks, BULK_SOURCE_CHANGES),
                *await _since(stack, marks, SOURCE_CHANGES),
            ]
            results = await _since(stack, marks, RECORD_RESULTS)
            pushed = await _since(stack, marks, PUSH_RESULTS)
            applied_at = await _mapper_applied_at(stack)
            exited = stack.exited()
        except BaseException as failure:
            fault_report.record(name, {"result": f"failed: {type(failure).__name__}: {failure}"[:500]})
            raise
        finally:
            await stack.stop()
    writes = sandbox.writes[writes_before:]
    sync = [w for w in writes if w.who == "sync"]
    restating = [w for w in sync if restated(w)]
    without_signal = uncaused(sync, abm.signals_at)
    ping_pong_writes = {w.seq for w in restating} | {w.seq for w in without_signal}
    versions = [
        (c["id"], c["data"]["object"], c["data"]["pipedrive_id"], c["data"].get("record") or {})
        for c in changes
    ]
    echo_writes = echoes(sync, versions, shared_versions(writes))
    shared_with_an_edit = len(echoes(sync, versions)) - len(echo_writes)
    paired = pair_push_results(sync, [
        (p["data"]["object"], p["data"]["pipedrive_id"], p["id"], p.get("causationid") or "")
        for p in pushed
        if p["data"].get("outcome") in ("created", "updated") and p["data"].get("pipedrive_id")
    ])  # fmt: skip
    same_second = same_second_writes(writes)
    applied = [
        _echo_applied(r, echo_writes[r["causationid"]], paired, applied_at, same_second)
        for r in results
        if r.get("causationid") in echo_writes
    ]
    echo_outcomes = Counter(a.outcome for a in applied)
    abm_ping_pong = sum(1 for a in applied if a.ping_pong)
    echo_results = [r for r in results if r.get("causationid") in echo_writes]
    ping_pong_details = [
        _ping_pong_detail(echo_writes[r["causationid"]], r)
        for r, a in zip(echo_results, applied, strict=True)
        if a.ping_pong
    ]
    changed_by_echo = Counter(
        f"{write_kind(echo_writes[r['causationid']])}: {_why(a)}"
        for r, a in zip((r for r in results if r.get("causationid") in echo_writes), applied, strict=True)
        if a.changed_the_store
    )
    figures = {
        "churn_s": round(churned_s, 1),
        "organizations_imported_first": RECORDS,
        "abm_signals": dict(abm.sent),
        "pipedrive_edits": dict(editor.done),
        "sync_writes": dict(Counter(f"{w.entity} {w.method} {w.status}" for w in sync)),
        "editor_writes": sum(1 for w in writes if w.who == "editor"),
        "other_writes": sum(1 for w in writes if w.who == "other"),
        "ping_pong_writes": len(ping_pong_writes),
        "restating_writes": len(restating),
        "writes_without_an_abm_signal": len(without_signal),
        "source_changes": len(changes),
        "source_changes_that_are_echoes": len(echo_writes),
        "echo_outcomes_in_the_abm_store": dict(echo_outcomes),
        "abm_store_changes_from_echoes": sum(1 for a in applied if a.changed_the_store),
        "abm_store_changes_from_echoes_by_write": dict(changed_by_echo),
        "abm_store_changes_from_same_second_echoes": sum(
            1 for a in applied if a.changed_the_store and a.same_second
        ),
        "same_second_writes": len(same_second),
        "abm_ping_pong_changes": abm_ping_pong,
        "abm_ping_pong_details": ping_pong_details,
        "echo_versions_shared_with_an_edit_in_the_same_second": shared_with_an_edit,
        "mapper_outcomes": dict(Counter(r["data"]["outcome"] for r in results)),
        "services_exited": len(exited),
        "seconds_to_finish": round(time.monotonic() - started, 1),
        "definition": "ping-pong write: a write by the sync (its API token) to an organization or person"
        " that changed no value Pipedrive held, or that outnumbered, when served, the ABM signals about"
        " that record published before it. Echo: a Pipedrive version the sync's own write produced (its"
        " update time and the values it set; a version an edit in Pipedrive also left, in the same second,"
        " is none). ABM ping-pong change: the mapper's outcome created or updated for an echo it applied"
        " after both the ABM signal behind the write and the write's push result (mapper inbox times); an"
        " echo that overtook either is a race, counted apart. A same-second write (a sync write that left"
        " the update time an earlier write of the record left: two pushes of it, or its create and an update,"
        " in one second) is counted apart too: the mapper, holding a version of that second, cannot tell by"
        " update time (whole seconds) whether the written one is later, so by rule it does not take the"
        " push's values and leaves them to the echo, which brings Pipedrive's current values (the later"
        " push's) once and writes nothing back",
    }
    ok = len(ping_pong_writes) == abm_ping_pong == 0 and not exited
    fault_report.record(name, {**figures, "result": "ok" if ok else "failed"})
    assert [(w.entity, w.record_id, w.body) for w in sync if w.seq in ping_pong_writes] == []
    assert exited == {}
    assert abm_ping_pong == 0, f"ABM records changed by the import of our own push: {dict(changed_by_echo)}"
