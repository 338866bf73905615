"""Webhooks duplicated and shuffled: two tenants of one stack are connected to the same sandbox company,
both import its PSYNC_FAULT_WEBHOOK_RECORDS organizations, and both register their webhooks. Rounds of
edits, deletes and merges are made in Pipedrive; the sandbox's deliveries to both tenants' webhooks are
captured. Tenant A then receives its deliveries once each, in the order Pipedrive sent them; tenant B
receives every one of its deliveries twice (a third of them three times), all in a shuffled order. The
ABM store, the pusher's mirror, the activity log and the source changes emitted of B must equal A's."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from pipedrive_sandbox.changes import generate_changes
from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.store import Entity
from tenant_auth.registry import TenantRegistry
from tests.faults.conftest import FaultReport
from tests.outages.private_infra import PrivateKafka, PrivatePostgres
from tests.outages.stack import ImportStack, import_stack
from tests.support.conditions import eventually
from tests.support.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

RECORDS = int(os.environ.get("PSYNC_FAULT_WEBHOOK_RECORDS", "300"))
ROUNDS = 6
Delivery = tuple[str, dict[str, Any]]  # (the webhook's Basic auth header, the payload)


@dataclasses.dataclass
class Capture:
    """Where the sandbox's webhooks are pointed: keeps each delivery per tenant, in arrival order."""

    url: str
    received: dict[str, list[Delivery]] = dataclasses.field(default_factory=dict)


@contextlib.asynccontextmanager
async def capturing() -> AsyncIterator[Capture]:
    """A listener that answers 200 to every delivery and keeps it."""
    port = free_port()
    capture = Capture(f"http://127.0.0.1:{port}")

    async def keep(request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        delivery = (request.headers.get("Authorization", ""), await request.json())
        capture.received.setdefault(tenant, []).append(delivery)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/{tenant}", keep)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield capture
    finally:
        await runner.cleanup()


async def _second_tenant(stack: ImportStack) -> ImportStack:
    """Another tenant of the same processes, connected to the same sandbox company."""
    assert stack.pool is not None
    registry = TenantRegistry(stack.pool)
    tenant = f"{stack.tenant}b"
    await registry.create_tenant(tenant, tenant)
    key = await registry.issue_key(tenant)
    other = dataclasses.replace(
        stack, tenant=tenant, headers={"Authorization": f"Bearer {key.full_key}"}, marks=dict(stack.marks)
    )
    token = stack.sandbox.handle.api_token
    assert (await other.call("connector", "POST", "/v1/connection/api-token", {"api_token": token}))[0] == 200
    return other


def _one_domain_each(stack: ImportStack) -> None:
    """Give every organization a website of its own before the imports: which of two organizations
    sharing a domain an import links to the account is a race even without faults (partitions are applied
    in parallel), and would make the two tenants differ before any webhook."""
    state = stack.sandbox.handle.state
    user = next(iter(state.account.users))
    for record in list(state.tables[Entity.ORGANIZATION].live()):
        website = f"https://www.organization{record.id}.com"
        state.entities.update(Entity.ORGANIZATION, record.id, {"website": website}, user, ChangeSource.APP)


async def _import(stack: ImportStack) -> None:
    run_id = await stack.start_import()
    await eventually(
        lambda: stack.run_of(run_id), lambda r: r.get("state") == "finished", within_s=1800, what="import"
    )


async def _change_pipedrive(stack: ImportStack) -> list[dict[str, Any]]:
    """Rounds of edits, deletes and merges of organizations, a few seconds apart in the sandbox's time."""
    state = stack.sandbox.handle.state
    done: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        state.clock.advance(2)
        done += generate_changes(state.entities, state.change_rng, Entity.ORGANIZATION, 10, 2, 2)
    return done


async def _deliver(url: str, deliveries: list[Delivery]) -> list[int]:
    """POST each delivery to the connector's receiver as Pipedrive would, one after another."""
    statuses = []
    async with aiohttp.ClientSession() as http:
        for auth, payload in deliveries:
            async with http.post(url, json=payload, headers={"Authorization": auth}) as answer:
                statuses.append(answer.status)
    return statuses


def _duplicated_and_shuffled(deliveries: list[Delivery]) -> list[Delivery]:
    rng = random.Random(14)
    repeated = deliveries * 2 + rng.sample(deliveries, len(deliveries) // 3)
    rng.shuffle(repeated)
    return repeated


async def _rows(stack: ImportStack, query: str) -> Counter[str]:
    assert stack.pool is not None
    return Counter(orjson.dumps(dict(r)).decode() for r in await stack.pool.fetch(query, stack.tenant))


async def _state(stack: ImportStack) -> dict[str, Counter[str]]:
    """What the tenant's services hold, without ids and times that differ between tenants anyway."""
    s = stack.suffix
    emitted = Counter(  # once per event id: a message sent again under its id is not a second change
        orjson.dumps({k: v for k, v in orjson.loads(value)["data"].items() if k != "import_context"}).decode()
        for value in {orjson.loads(v)["id"]: v for _, v in await stack.emitted()}.values()
    )
    return {
        "ABM store accounts": await _rows(
            stack,
            f"SELECT match_key, is_duplicate, fields, deleted_in_crm FROM mapper_{s}.accounts"
            " WHERE tenant_id = $1",
        ),
        "ABM store links": await _rows(
            stack,
            f"SELECT l.object, l.pipedrive_id, a.match_key, l.source_update_time, l.deleted_in_crm,"
            f" l.merged_into_id FROM mapper_{s}.links l JOIN mapper_{s}.accounts a"
            " ON a.tenant_id = l.tenant_id AND a.abm_id = l.abm_id WHERE l.tenant_id = $1",
        ),
        "pusher mirror": await _rows(
            stack,
            f"SELECT object, pipedrive_id, match_key, record::jsonb AS record, update_time, deleted,"
            " merged_into_id, org_id"
            f" FROM pusher_{s}.mirror WHERE tenant_id = $1",
        ),
        "activity log": await _rows(
            stack,
            f"SELECT source_topic, object, direction, match_key, pipedrive_id, outcome, message"
            f" FROM auditlog_{s}.entries WHERE tenant_id = $1",
        ),
        "source changes emitted": emitted,
    }


async def _settled(stack: ImportStack) -> tuple[int, int, int, int]:
    """Hints left, and what the mapper, the activity log and the mirror hold, for the tenant."""
    hints = await stack.count(
        f"SELECT count(*) FROM connector_{stack.suffix}.webhook_hints WHERE tenant_id = $1"
    )
    emitted = {orjson.loads(value)["id"] for _, value in await stack.emitted()}
    return hints, await stack.applied(), await stack.audit_entries(), len(emitted)


async def _quiet(stacks: list[ImportStack]) -> None:
    """Until no hint is left and every figure held still for 15 s (what was emitted applied and logged)."""
    seen: dict[str, tuple[float, Any]] = {}

    async def still() -> bool:
        now, quiet = time.monotonic(), True
        for stack in stacks:
            figures = await _settled(stack)
            if seen.get(stack.tenant, (0.0, None))[1] != figures:
                seen[stack.tenant] = (now, figures)
            hints, applied, _, emitted = figures
            quiet = quiet and hints == 0 and applied == emitted and now - seen[stack.tenant][0] >= 15
        return quiet

    await eventually(still, bool, within_s=900, what="both tenants settled")


async def test_webhooks_duplicated_and_shuffled_end_where_ordered_delivery_ends(
    private_postgres: PrivatePostgres, private_kafka: PrivateKafka, fault_report: FaultReport, tmp_path: Path
) -> None:
    started = time.monotonic()
    async with (
        import_stack(private_postgres.url, private_kafka.bootstrap, RECORDS, tmp_path) as ordered,
        capturing() as capture,
    ):
        _one_domain_each(ordered)
        shuffled = await _second_tenant(ordered)
        for stack in (ordered, shuffled):
            await _import(stack)
            await stack.settled(within_s=1800)
            assert (await stack.call("connector", "PUT", "/v1/webhooks", {"enabled": True}))[0] == 200
        dispatcher = ordered.sandbox.handle.state.webhooks
        receivers = {}
        for webhook in dispatcher.webhooks.values():
            tenant = webhook.subscription_url.rsplit("/", 1)[1]
            receivers[tenant] = webhook.subscription_url
            webhook.subscription_url = f"{capture.url}/{tenant}"
        changes = await _change_pipedrive(ordered)
        await eventually(
            lambda: _captured(capture, dispatcher.pending()),
            lambda n: n[1] == 0 and len(n[0]) == 2 and n[0][0] == n[0][1] > 0,
            within_s=120,
            what="every delivery to both tenants captured",
        )
        in_order = capture.received[ordered.tenant]
        sent = await _deliver(receivers[ordered.tenant], in_order)
        repeated = _duplicated_and_shuffled(capture.received[shuffled.tenant])
        sent_again = await _deliver(receivers[shuffled.tenant], repeated)
        await _quiet([ordered, shuffled])
        want, got = await _state(ordered), await _state(shuffled)
        writes = _record_writes(ordered)
    differs = sorted(name for name in want if want[name] != got[name])
    fault_report.record(
        "webhooks duplicated and shuffled vs ordered delivery",
        {
            "records": RECORDS,
            "pipedrive_changes": Counter(c["action"] for c in changes),
            "deliveries": len(in_order),
            "deliveries_sent_duplicated_and_shuffled": len(repeated),
            "answers_ordered": {str(k): n for k, n in Counter(sent).items()},
            "answers_shuffled": {str(k): n for k, n in Counter(sent_again).items()},
            "compared": {name: sum(rows.values()) for name, rows in want.items()},
            "differs_from_ordered_delivery": differs,
            "pipedrive_writes_to_records": writes,
            "webhook_registrations": _webhook_registrations(ordered),
            "seconds_to_finish": round(time.monotonic() - started, 1),
            "result": "ok" if not differs and writes == 0 else "failed",
        },
    )
    assert set(sent) == set(sent_again) == {200}
    assert differs == [], "\n".join(
        f"{name}: ordered only {list((want[name] - got[name]).elements())},"
        f" shuffled only {list((got[name] - want[name]).elements())}"
        for name in differs
    )
    assert writes == 0


async def _captured(capture: Capture, pending: int) -> tuple[list[int], int]:
    return [len(d) for d in capture.received.values()], pending


def _record_writes(stack: ImportStack) -> int:
    """Calls that could change a record (registering webhooks does not)."""
    return stack.pipedrive_writes() - _webhook_registrations(stack)


def _webhook_registrations(stack: ImportStack) -> int:
    entries = stack.sandbox.handle.state.ledger.entries
    return sum(1 for e in entries if e.method == "POST" and e.path.startswith("/v1/webhooks"))
