"""The catalog of a tenant's connected Pipedrive: its fields per object (built-in and custom, type, options,
writable or not), pipelines with their stages, users, the connected user and the company.

Read through the tenant's client (every call spends from the shared budget: 62 tokens for a whole read,
see `CATALOG_READ_TOKENS`), kept in the connector's schema, and read again only when asked to, when it is
older than the configured age at the time it is used, or when something it is asked about is missing
(at most once per `missing_refresh_s`): filters, settings and imports consult it for almost nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from pipedrive_client import PipedriveClient, PipedriveClientFactory
from pipedrive_client.account import FieldEntity
from pipedrive_client.clock import Clock
from pipedrive_client.models import FieldDefinition as PipedriveFieldDefinition
from pipedrive_client.writable_fields import is_writable
from schemas.events.common import SyncObject
from sync_rules.mappings import FieldDefinition

ENTITIES: dict[SyncObject, FieldEntity] = {
    SyncObject.ORGANIZATION: "organization",
    SyncObject.PERSON: "person",
    SyncObject.DEAL: "deal",
}
CATALOG_READ_TOKENS = 3 * 10 + 5 + 5 + 20 + 2
"""A whole read: three field lists (v2, 10 each), pipelines and stages (v2, 5 each), users (v1, 20) and
the current user (v1, 2), each fitting one page."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class FieldOption(_Model):
    """An option of an enum, set or status field: what records hold (`id`) and what people read."""

    id: int | str
    label: str


class CatalogField(_Model):
    """A field of an object: `code` is the v2 record's key (under `custom_fields` when `custom`)."""

    code: str
    label: str
    type: str
    custom: bool
    writable: bool
    options: tuple[FieldOption, ...] = ()


class CatalogStage(_Model):
    """A stage of a pipeline."""

    id: int
    name: str
    order_nr: int | None = None


class CatalogPipeline(_Model):
    """A pipeline with its stages in order."""

    id: int
    name: str
    stages: tuple[CatalogStage, ...] = ()


class CatalogUser(_Model):
    """A user (a possible owner)."""

    id: int
    name: str
    email: str | None = None
    active: bool = True


class CatalogCompany(_Model):
    """The connected company."""

    id: int
    name: str | None = None
    domain: str | None = None


class Catalog(_Model):
    """What the connected Pipedrive account holds, as of `refreshed_at`."""

    company: CatalogCompany
    connected_user: CatalogUser
    users: tuple[CatalogUser, ...]
    pipelines: tuple[CatalogPipeline, ...]
    fields: dict[SyncObject, tuple[CatalogField, ...]]
    refreshed_at: datetime
    tokens_spent: int = Field(ge=0, description="Tokens the read of this catalog cost.")

    def definitions(self, obj: SyncObject) -> list[FieldDefinition]:
        """The object's fields as the rule book takes them."""
        return [
            FieldDefinition(
                f.code,
                f.label,
                f.custom,
                f.type,
                writable=f.writable,
                options=tuple((o.id, o.label) for o in f.options),
            )
            for f in self.fields.get(obj, ())
        ]

    def field(self, obj: SyncObject, code: str) -> CatalogField | None:
        """The object's field with this code."""
        return next((f for f in self.fields.get(obj, ()) if f.code == code), None)


async def read_catalog(client: PipedriveClient, now: datetime) -> Catalog:
    """Read the whole catalog through the tenant's client."""
    before = client.tokens_spent
    me = await client.users.me()
    users = await client.users.list()
    pipelines = await client.pipelines.list()
    stages = await client.stages.list()
    fields = {obj: await client.fields.list(entity) for obj, entity in ENTITIES.items()}
    return Catalog(
        company=CatalogCompany(id=me.company_id, name=me.company_name, domain=me.company_domain),
        connected_user=CatalogUser(id=me.id, name=me.name, email=me.email, active=me.active_flag),
        users=tuple(CatalogUser(id=u.id, name=u.name, email=u.email, active=u.active_flag) for u in users),
        pipelines=tuple(
            CatalogPipeline(
                id=p.id,
                name=p.name,
                stages=tuple(
                    CatalogStage(id=s.id, name=s.name, order_nr=s.order_nr)
                    for s in sorted(stages, key=lambda s: (s.order_nr or 0, s.id))
                    if s.pipeline_id == p.id and not s.is_deleted
                ),
            )
            for p in pipelines
            if not p.is_deleted
        ),
        fields={obj: tuple(_field(ENTITIES[obj], d) for d in found) for obj, found in fields.items()},
        refreshed_at=now,
        tokens_spent=client.tokens_spent - before,
    )


def _field(entity: FieldEntity, definition: PipedriveFieldDefinition) -> CatalogField:
    return CatalogField(
        code=definition.field_code,
        label=definition.field_name,
        type=definition.field_type,
        custom=definition.is_custom_field,
        writable=is_writable(
            entity,
            definition.field_code,
            is_custom=definition.is_custom_field,
            field_type=definition.field_type,
        ),
        options=tuple(_options(definition.options or ())),
    )


def _options(raw: Iterable[dict[str, object]]) -> Iterable[FieldOption]:
    for option in raw:
        ident, label = option.get("id"), option.get("label")
        if isinstance(ident, int | str) and isinstance(label, str):
            yield FieldOption(id=ident, label=label)


Wanted = Callable[[Catalog], bool]


@dataclass(frozen=True)
class CatalogAges:
    """When a stored catalog is read again: older than `max_age_s` when used, or missing something
    asked for and older than `missing_refresh_s`."""

    max_age_s: float = 86_400.0
    missing_refresh_s: float = 60.0


class CatalogKeeper(Protocol):
    """Where catalogs are kept (`connector.catalog_store.CatalogStore`)."""

    async def get(self, tenant: str) -> Catalog | None: ...
    async def save(self, tenant: str, catalog: Catalog) -> None: ...
    async def forget(self, tenant: str) -> None: ...


class Catalogs:
    """The tenants' catalogs: stored ones while fresh enough, read again when they are not."""

    def __init__(
        self, store: CatalogKeeper, factory: PipedriveClientFactory, clock: Clock, ages: CatalogAges
    ) -> None:
        self._store = store
        self._factory = factory
        self._clock = clock
        self._ages = ages

    async def current(self, tenant: str, *, has: Wanted | None = None) -> Catalog:
        """The tenant's catalog; read again when there is none, it is too old, or `has` says it lacks
        something (then only when it is older than `missing_refresh_s`). Raises the client's errors."""
        stored = await self._store.get(tenant)
        if stored is None or self._age(stored) > timedelta(seconds=self._ages.max_age_s):
            return await self.refreshed(tenant)
        lacking = has is not None and not has(stored)
        if lacking and self._age(stored) >= timedelta(seconds=self._ages.missing_refresh_s):
            return await self.refreshed(tenant)
        return stored

    async def refreshed(self, tenant: str) -> Catalog:
        """Read the catalog from Pipedrive now and keep it."""
        catalog = await read_catalog(self._factory.for_tenant(tenant), self._now())
        await self._store.save(tenant, catalog)
        return catalog

    async def forget(self, tenant: str) -> None:
        """Forget the tenant's catalog (connected to another account, or disconnected)."""
        await self._store.forget(tenant)

    def _age(self, catalog: Catalog) -> timedelta:
        return self._now() - catalog.refreshed_at

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)
