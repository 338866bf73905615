"""Each tenant's Pipedrive users, read once for many pushes: GET /v1/users costs 20 tokens, and every push
of a record with an owner email needs them. A read is kept for `USERS_MAX_AGE` per tenant in this process
(a user added, renamed or deactivated in Pipedrive is seen by pushes at most that long after), and the
oldest tenants are dropped beyond `MAX_TENANTS`."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

ReadUsers = Callable[[], Awaitable[dict[str, int]]]
"""A read of a tenant's Pipedrive users (GET /v1/users): ids by lowercased email."""
KeptUsers = Callable[[ReadUsers], Awaitable[dict[str, int]]]
"""A tenant's users as `UsersByTenant.of` gives them: the kept read while fresh, else the read given."""

USERS_MAX_AGE_S = 60.0
MAX_TENANTS = 1000


class UsersByTenant:
    """Pipedrive users by lowercased email per tenant, each read kept for `max_age_s` seconds."""

    def __init__(
        self,
        max_age_s: float = USERS_MAX_AGE_S,
        max_tenants: int = MAX_TENANTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_age_s, self._max_tenants, self._clock = max_age_s, max_tenants, clock
        self._read: OrderedDict[str, tuple[float, dict[str, int]]] = OrderedDict()

    def fresh(self, tenant: str) -> dict[str, int] | None:
        """The tenant's users when read less than `max_age_s` ago, else None (read them again)."""
        kept = self._read.get(tenant)
        if kept is None or self._clock() - kept[0] >= self._max_age_s:
            return None
        return dict(kept[1])

    def keep(self, tenant: str, users: dict[str, int]) -> None:
        """Remember a read of the tenant's users from now."""
        self._read.pop(tenant, None)
        self._read[tenant] = (self._clock(), dict(users))
        while len(self._read) > self._max_tenants:
            self._read.popitem(last=False)

    async def of(self, tenant: str, read: ReadUsers) -> dict[str, int]:
        """The tenant's users: the kept read while fresh, else `read` (and kept)."""
        users = self.fresh(tenant)
        if users is None:
            users = await read()
            self.keep(tenant, users)
        return users
