"""Tenant settings in memory: a consuming service's settings replica (`mapper.ports.TenantSettingsSource`,
`pusher.ports.TenantSettingsSource`), version-guarded as `settings_replica.replica.SettingsReplica` is."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.events.settings import TenantSettings
from settings_replica.replica import newest_per_tenant


class InMemorySettings:
    """`mapper.ports.TenantSettingsSource`: the newest version of each tenant's settings."""

    def __init__(self) -> None:
        self._kept: dict[str, TenantSettings] = {}

    async def get(self, tenant: str) -> TenantSettings | None:
        return self._kept.get(tenant)

    def _store(self, tenant: str, event_id: str, settings: TenantSettings) -> bool:
        current = self._kept.get(tenant)
        if current is not None and current.version >= settings.version:
            return False
        self._kept[tenant] = settings
        return True

    async def store_all(self, updates: Sequence[tuple[str, str, TenantSettings]]) -> list[bool]:
        chosen = newest_per_tenant(updates)
        kept = {i for i in chosen.values() if self._store(*updates[i])}
        return [i in kept for i in range(len(updates))]
