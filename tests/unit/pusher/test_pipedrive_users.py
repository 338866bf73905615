"""A tenant's Pipedrive users are read once for the pushes of a short while, never kept longer."""

from __future__ import annotations

from pusher.pipedrive_users import UsersByTenant


class Reads:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> dict[str, int]:
        self.count += 1
        return {"ann@acme.io": self.count}


async def test_a_read_is_kept_for_its_max_age_then_read_again() -> None:
    now = [0.0]
    users, reads = UsersByTenant(max_age_s=60, clock=lambda: now[0]), Reads()

    first = await users.of("t1", reads)
    now[0] = 59.9
    second = await users.of("t1", reads)
    now[0] = 60.0
    third = await users.of("t1", reads)

    assert (first, second, third) == ({"ann@acme.io": 1}, {"ann@acme.io": 1}, {"ann@acme.io": 2})


async def test_tenants_are_kept_apart_and_the_oldest_is_dropped_beyond_the_bound() -> None:
    users, reads = UsersByTenant(max_tenants=2, clock=lambda: 0.0), Reads()

    for tenant in ("t1", "t2", "t3"):
        await users.of(tenant, reads)

    assert users.fresh("t1") is None
    assert (users.fresh("t2"), users.fresh("t3")) == ({"ann@acme.io": 2}, {"ann@acme.io": 3})
