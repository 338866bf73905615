"""The pusher's adapter over the shared Pipedrive client: records as v2 dicts, and the tokens each push
spends (from the client's own cost table, so the results and runs can report them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pipedrive_client import NotFound, PipedriveClient
from pipedrive_client.endpoints import Endpoint
from pipedrive_client.models import FieldDefinition, Record
from pipedrive_client.resources import EntityResource
from pipedrive_client.token_costs import load_token_costs
from pusher.pipedrive_users import KeptUsers
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from sync_rules.mapping_resolution import record_match_key

_PLURAL = {SyncObject.ORGANIZATION: "organizations", SyncObject.PERSON: "persons", SyncObject.DEAL: "deals"}
# Pipedrive stamps add_time in whole seconds on its own clock: a twin added this long before our intent
# is still taken for the record our interrupted create made.
CLOCK_SLACK = timedelta(seconds=5)


def _cost(method: str, template: str, api: str = "v2") -> int:
    return load_token_costs().cost_of(Endpoint(api, method, template))  # type: ignore[arg-type]


class PipedriveWrites:
    """One push's calls to one tenant's Pipedrive, counting the tokens they cost; the tenant's users are
    read through `kept_users` (`UsersByTenant.of` of the tenant: kept for a short while across pushes) when
    given, given the read it makes when it has none."""

    def __init__(self, client: PipedriveClient, kept_users: KeptUsers | None = None) -> None:
        self._client = client
        self._kept_users = kept_users
        self.tokens = 0

    def _resource(self, obj: SyncObject) -> EntityResource[Any]:
        if obj is SyncObject.ORGANIZATION:
            return self._client.organizations
        if obj is SyncObject.PERSON:
            return self._client.persons
        return self._client.deals

    def _charge(self, method: str, template: str, api: str = "v2") -> None:
        self.tokens += _cost(method, template, api)

    async def create(self, obj: SyncObject, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a record; returns it as Pipedrive answered."""
        self._charge("POST", f"/{_PLURAL[obj]}")
        return as_dict(await self._resource(obj).create(body))

    async def update(self, obj: SyncObject, pipedrive_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH a record (idempotent: the same body twice leaves the same record)."""
        self._charge("PATCH", f"/{_PLURAL[obj]}/{{id}}")
        return as_dict(await self._resource(obj).update(pipedrive_id, body))

    async def get(self, obj: SyncObject, pipedrive_id: int) -> dict[str, Any] | None:
        """One record, None when Pipedrive does not know it."""
        self._charge("GET", f"/{_PLURAL[obj]}/{{id}}")
        try:
            return as_dict(await self._resource(obj).get(pipedrive_id))
        except NotFound:
            return None

    async def find_by_match_key(
        self,
        obj: SyncObject,
        match_key: str,
        planned_body: Mapping[str, Any],
        settings: TenantSettings | None,
    ) -> list[dict[str, Any]]:
        """Live records whose match key under the tenant's domain settings is `match_key` (search, then
        read each hit).

        Persons are searched by email (exact). Organizations by the planned name, since v2 search does not
        look into `website`, and by the domain custom field too when one is configured (an organization is
        keyed by its native website when that field is empty: `sync_rules.match_keys`).
        """
        found: dict[int, dict[str, Any]] = {}
        for term, fields in _searches(obj, match_key, planned_body, settings):
            self._charge("GET", f"/{_PLURAL[obj]}/search")
            for hit in await self._resource(obj).search(term, fields, exact_match=True):
                if hit.id in found:
                    continue
                record = await self.get(obj, hit.id)
                if record is None or record.get("is_deleted"):
                    continue
                if record_match_key(obj, record, settings) == match_key:
                    found[hit.id] = record
        return list(found.values())

    async def field_definitions(self, obj: SyncObject) -> list[FieldDefinition]:
        """Every field definition of the object (custom ones carry their 40-hex code)."""
        self._charge("GET", f"/{obj.value}Fields")
        return await self._client.fields.list(obj.value)

    async def create_field(self, obj: SyncObject, label: str, field_type: str) -> FieldDefinition:
        """Create a custom field."""
        self._charge("POST", f"/{obj.value}Fields")
        return await self._client.fields.create(obj.value, label, field_type)

    async def add_activity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Add an activity (a creating call: the caller guards it against repeats)."""
        self._charge("POST", "/activities")
        return (await self._client.activities.add(body)).model_dump(mode="json")

    async def activities_of_organization(self, org_id: int) -> list[dict[str, Any]]:
        """Every activity of one organization (10 tokens a page)."""
        found: list[dict[str, Any]] = []
        async for page in self._client.activities.of_organization(org_id):
            self._charge("GET", "/activities")
            found.extend(a.model_dump(mode="json") for a in page.items)
        return found

    async def users_by_email(self) -> dict[str, int]:
        """Active users' ids by lowercased email (owners are matched by user email); a read kept for the
        tenant (`pusher.pipedrive_users`) costs no call."""
        if self._kept_users is None:
            return await self._read_users()
        return await self._kept_users(self._read_users)

    async def _read_users(self) -> dict[str, int]:
        self._charge("GET", "/users", api="v1")
        users = await self._client.users.list()
        return {u.email.strip().lower(): u.id for u in users if u.email and u.active_flag}


def as_dict(record: Record) -> dict[str, Any]:
    """A client record as the v2 JSON shape (what source changes carry)."""
    return record.model_dump(mode="json")


def added_since(record: Mapping[str, Any], moment: datetime) -> bool:
    """Whether the record was added at or after `moment` (less the clock slack)."""
    raw = record.get("add_time")
    if not isinstance(raw, str):
        return False
    added = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return added >= moment - CLOCK_SLACK


def update_time_of(record: Mapping[str, Any], fallback: datetime) -> datetime:
    """The record's `update_time`, or `fallback` when Pipedrive sent none."""
    raw = record.get("update_time")
    if not isinstance(raw, str):
        return fallback
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def _searches(
    obj: SyncObject, match_key: str, planned_body: Mapping[str, Any], settings: TenantSettings | None
) -> list[tuple[str, list[str]]]:
    """The searches (term, fields) that find every record a match key may be taken from."""
    if obj is SyncObject.PERSON:
        return [(match_key, ["email"])]
    by_name = (str(planned_body.get("name") or match_key), ["name"])
    if settings is not None and settings.organization_domain.custom_field_code is not None:
        return [(match_key, ["custom_fields"]), by_name]
    return [by_name]
