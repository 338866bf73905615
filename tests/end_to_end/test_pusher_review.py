"""What a RevOps review of the pusher found, seen from outside: the ABM platform's signals (`abm.*`), the
sandbox's API (as the people using Pipedrive) and the activity log's API (as the admin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from schemas.events.abm_signals import CompanyRevealed
from tests.browser.stack import Stack
from tests.end_to_end.test_deletes_merges_and_pushes import BOTH_WAYS, WAIT_S, Admin, _signal
from tests.support.conditions import eventually

pytestmark = pytest.mark.integration


async def _skipped(admin: Admin, count: int) -> list[dict[str, Any]]:
    return await eventually(
        lambda: admin.all_entries("auto_push"),
        lambda found: len(found) >= count,
        within_s=WAIT_S,
        what="the reveals' results",
    )


async def test_a_reveal_without_a_usable_domain_is_named_in_the_activity_log(
    stack: Stack, abm_platform: AIOKafkaProducer
) -> None:
    admin = Admin(stack, await stack.new_tenant())
    await admin.connect(objects={"organization": {"directions": BOTH_WAYS}}, auto_push={"enabled": True})
    given = ["192.168.1.10", "localhost"]
    for domain in given:
        revealed = CompanyRevealed(domain=domain, name=f"Visitor at {domain}", revealed_at=datetime.now(UTC))
        await _signal(abm_platform, admin.tenant, revealed, domain)

    entries = await _skipped(admin, len(given))

    assert sorted((e["outcome"], e["match_key"]) for e in entries) == [("skipped", "-")] * len(given)
    for domain in given:
        assert [e for e in entries if f'"{domain}"' in e["message"]], (domain, entries)
