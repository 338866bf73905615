"""Deterministic demo data: the same seed always yields the same company, records and ids.

Websites come in the messy forms people type, some persons share emails, and some organizations share a
website, because those are the cases a sync must survive.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pipedrive_sandbox.account import Account, FieldDefinition, Pipeline, Stage, User
from pipedrive_sandbox.config import SandboxConfig
from pipedrive_sandbox.records import VISIBLE_TO_OWNER_AND_FOLLOWERS
from pipedrive_sandbox.store import Entity, EntityTable, Record
from pipedrive_sandbox.timestamps import format_date, format_time

_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Pied",
    "Piper",
    "Aperture",
    "Black",
    "Mesa",
    "Oscorp",
    "Gringotts",
    "Monarch",
    "Nakatomi",
    "Virtucon",
    "Zorg",
    "Blue",
    "Sun",
    "Massive",
    "Dynamic",
    "Nordic",
    "Alpine",
    "Harbor",
    "Granite",
    "Cedar",
    "Summit",
    "Vertex",
    "Quantum",
    "Polar",
    "Lumen",
    "Atlas",
    "Orbit",
    "Nimbus",
    "Falcon",
    "Maple",
    "River",
)
_SUFFIXES = ("Labs", "Systems", "Logistics", "Foods", "Partners", "Digital", "Health", "Energy", "Works")
_LEGAL = ("", "", "", " GmbH", " Ltd", " Inc.", " AB", " OÜ", " S.A.", " LLC")
_TLDS = ("com", "com", "com", "io", "de", "co.uk", "ee", "fr", "net")
_FIRST = (
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Eva",
    "Frank",
    "Greta",
    "Hans",
    "Ines",
    "Jon",
    "Kai",
    "Lena",
    "Mart",
    "Nora",
    "Otto",
    "Pia",
    "Rasmus",
    "Sofia",
)
_LAST = (
    "Tamm",
    "Smith",
    "Müller",
    "Garcia",
    "Rossi",
    "Novak",
    "Jensen",
    "Kask",
    "Dubois",
    "Silva",
    "Nagy",
    "Ivanova",
    "Berg",
    "Lee",
    "Khan",
)
_PERSONAL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "gmx.de")
_CURRENCIES = ("EUR", "EUR", "USD", "USD", "GBP", "SEK")
_CITIES = (("Tallinn", "Estonia"), ("Berlin", "Germany"), ("London", "United Kingdom"), ("Austin", "USA"))

SECONDS_PER_DAY = 86400

T = TypeVar("T")


class FastRandom(random.Random):
    """random.Random with cheaper `choice`/`randint` (seeding 100,000 records calls them millions of times).

    Still deterministic from the seed; the values differ from the stdlib methods of the same name.
    """

    def pick(self, items: Sequence[T]) -> T:
        """A uniformly chosen item."""
        return items[int(self.random() * len(items))]

    def between(self, low: int, high: int) -> int:
        """A uniformly chosen integer in [low, high]."""
        return low + int(self.random() * (high - low + 1))


@dataclass
class SeededData:
    """Everything seeding produces."""

    account: Account
    tables: dict[Entity, EntityTable]


def field_code(rng: FastRandom) -> str:
    """A 40-hex custom field code, like Pipedrive's per-account hashes."""
    return f"{rng.getrandbits(160):040x}"


def seed_company(config: SandboxConfig, now: int) -> SeededData:
    """Build the demo company and its records from `config.seed`, timestamps ending at `now`."""
    rng = FastRandom(config.seed)
    account = _seed_account(config, rng, now)
    tables = {entity: EntityTable(entity) for entity in Entity}
    domains = _seed_organizations(config, rng, now, account, tables[Entity.ORGANIZATION])
    _seed_persons(config, rng, now, account, tables[Entity.PERSON], domains)
    _seed_deals(config, rng, now, account, tables)
    return SeededData(account, tables)


def _seed_account(config: SandboxConfig, rng: FastRandom, now: int) -> Account:
    account = Account()
    created = now - 3 * 365 * SECONDS_PER_DAY
    for seat in range(config.seats):
        user_id = 12415231 + seat
        token = config.api_token if seat == 0 else f"{rng.getrandbits(160):040x}"
        name = f"{_FIRST[seat % len(_FIRST)]} {_LAST[seat % len(_LAST)]}"
        email = f"{name.split()[0].lower()}.{seat}@{config.company_domain}.example"
        account.users[user_id] = User(user_id, name, email, token, seat == 0, created)
    for pipeline_id, name in ((1, "Sales"), (2, "Partnerships")):
        account.pipelines[pipeline_id] = Pipeline(pipeline_id, name, pipeline_id, created)
        for order, stage_name in enumerate(("Qualified", "Contact made", "Proposal", "Negotiation"), 1):
            stage_id = (pipeline_id - 1) * 4 + order
            account.stages[stage_id] = Stage(stage_id, pipeline_id, stage_name, order, order * 20, created)
    account.fields = _seed_fields(rng, created)
    return account


NativeField = tuple[str, str, str]
_COMMON_NATIVES: tuple[NativeField, ...] = (
    ("id", "ID", "int"),
    ("owner_id", "Owner", "user"),
    ("update_time", "Update time", "date"),
    ("label_ids", "Labels", "set"),
    ("visible_to", "Visible to", "visible_to"),
)
NATIVE_FIELDS: dict[Entity, tuple[NativeField, ...]] = {
    Entity.ORGANIZATION: (
        ("name", "Name", "varchar"),
        *_COMMON_NATIVES,
        ("add_time", "Organization created", "date"),
        ("website", "Website", "varchar"),
        ("address", "Address", "address"),
        ("linkedin", "LinkedIn profile", "varchar"),
        ("industry", "Industry", "enum"),
        ("annual_revenue", "Annual revenue", "monetary"),
        ("employee_count", "Number of employees", "int"),
    ),
    Entity.PERSON: (
        ("name", "Name", "varchar"),
        *_COMMON_NATIVES,
        ("add_time", "Person created", "date"),
        ("org_id", "Organization", "org"),
        ("emails", "Email", "varchar"),
        ("phones", "Phone", "phone"),
        ("job_title", "Job title", "varchar"),
        ("birthday", "Birthday", "date"),
        ("notes", "Notes", "text"),
        ("postal_address", "Postal address", "address"),
    ),
    Entity.DEAL: (
        ("title", "Title", "varchar"),
        *_COMMON_NATIVES,
        ("add_time", "Deal created", "date"),
        ("value", "Value", "monetary"),
        ("currency", "Currency", "varchar"),
        ("pipeline_id", "Pipeline", "int"),
        ("stage_id", "Stage", "stage"),
        ("status", "Status", "status"),
        ("expected_close_date", "Expected close date", "date"),
        ("org_id", "Organization", "org"),
        ("person_id", "Contact person", "people"),
        ("probability", "Probability", "int"),
        ("won_time", "Won time", "date"),
        ("lost_time", "Lost time", "date"),
        ("close_time", "Deal closed on", "date"),
        ("lost_reason", "Lost reason", "varchar"),
        ("stage_change_time", "Last stage change", "date"),
    ),
}
"""The built-in fields Pipedrive lists for each entity (field code = the v2 record's attribute)."""
NATIVE_OPTIONS: dict[str, list[dict[str, Any]]] = {
    "status": [{"id": s, "label": s.capitalize()} for s in ("open", "won", "lost", "deleted")],
    "visible_to": [
        {"id": "1", "label": "Owner & followers"},
        {"id": "3", "label": "Entire company"},
    ],
}


def _seed_fields(rng: FastRandom, created: int) -> dict[Entity, list[FieldDefinition]]:
    def options(*labels: str) -> list[dict[str, Any]]:
        return [{"id": rng.between(10, 9999), "label": label} for label in labels]

    natives = NATIVE_FIELDS
    customs = {
        Entity.ORGANIZATION: (
            ("Domain", "varchar", None),
            ("Tier", "enum", options("A", "B", "C")),
            ("ABM score", "double", None),
            ("Segments", "set", options("SaaS", "Retail", "Public")),
        ),
        Entity.PERSON: (
            ("Lead source", "enum", options("Inbound", "Outbound", "Event")),
            ("Title at intake", "varchar", None),
        ),
        Entity.DEAL: (("Contract value", "monetary", None), ("Renewal date", "date", None)),
    }
    definitions: dict[Entity, list[FieldDefinition]] = {}
    next_id = 1
    for entity in Entity:
        found: list[FieldDefinition] = []
        for code, name, kind in natives[entity]:
            native_options = NATIVE_OPTIONS.get(code) if kind in ("status", "visible_to") else None
            found.append(
                FieldDefinition(next_id, entity, code, name, kind, False, created, native_options, next_id)
            )
            next_id += 1
        for name, kind, option_list in customs[entity]:
            code = field_code(rng)
            found.append(
                FieldDefinition(next_id, entity, code, name, kind, True, created, option_list, next_id)
            )
            next_id += 1
        definitions[entity] = found
    return definitions


def messy_website(rng: FastRandom, domain: str) -> str:
    """A website as a person would type it: scheme or not, www., capitals, paths, trailing dots."""
    host = ("www." if rng.random() < 0.5 else "") + domain
    roll = rng.random()
    if roll < 0.15:
        host = host.upper() if rng.random() < 0.3 else host.capitalize()
    elif roll < 0.22:
        host += "."
    scheme = rng.pick(("https://", "http://", "", ""))
    path = rng.pick(("", "", "", "/", "/en", "/about-us", "/?utm_source=crm"))
    return scheme + host + path


def _time_pair(rng: FastRandom, now: int) -> tuple[int, int]:
    added = now - rng.between(30 * SECONDS_PER_DAY, 3 * 365 * SECONDS_PER_DAY)
    updated = added + int((now - added) * rng.random())
    return added, updated


def _seed_organizations(
    config: SandboxConfig, rng: FastRandom, now: int, account: Account, table: EntityTable
) -> dict[int, str]:
    owners = list(account.users)
    custom = {f.field_name: f for f in account.fields[Entity.ORGANIZATION] if f.is_custom_field}
    domain_code, tier, score = custom["Domain"].field_code, custom["Tier"], custom["ABM score"].field_code
    tier_ids = [int(o["id"]) for o in tier.options or []]
    domains: dict[int, str] = {}
    records: list[Record] = []
    for org_id in range(1, config.organizations + 1):
        words = rng.sample(_WORDS, 2)
        base = f"{words[0]} {words[1]} {rng.pick(_SUFFIXES)}"
        domain = f"{words[0].lower()}{words[1].lower()}{org_id}.{rng.pick(_TLDS)}"
        # Some organizations are the same company entered twice: they share a website.
        if org_id > 1 and rng.random() < 0.03:
            domain = domains[rng.between(max(1, org_id - 50), org_id - 1)]
        domains[org_id] = domain
        added, updated = _time_pair(rng, now)
        city, country = _CITIES[org_id % len(_CITIES)]
        roll = rng.random()
        website = None if roll < 0.08 else messy_website(rng, domain)
        custom_values: dict[str, Any] = {score: round(rng.random() * 100, 1)}
        if roll < 0.25:
            custom_values[domain_code] = domain
        if rng.random() < 0.5:
            custom_values[tier.field_code] = rng.pick(tier_ids)
        data = {
            "id": org_id,
            "name": base + rng.pick(_LEGAL),
            "owner_id": owners[org_id % len(owners)],
            "add_time": format_time(added),
            "update_time": format_time(updated),
            "is_deleted": False,
            "visible_to": VISIBLE_TO_OWNER_AND_FOLLOWERS,
            "address": {
                "value": f"{org_id % 200 + 1} Main Street, {city}, {country}",
                "locality": city,
                "country": country,
            },
            "label_ids": [],
            "website": website,
            "linkedin": f"https://www.linkedin.com/company/{words[0].lower()}-{org_id}"
            if roll > 0.6
            else None,
            "industry": rng.between(1, 40) if roll > 0.3 else None,
            "annual_revenue": rng.between(1, 5000) * 10000 if roll > 0.4 else None,
            "employee_count": rng.between(1, 5000) if roll > 0.2 else None,
            "custom_fields": custom_values,
        }
        records.append(Record(org_id, data, added, updated))
    table.bulk_load(records)
    return domains


def _seed_persons(
    config: SandboxConfig,
    rng: FastRandom,
    now: int,
    account: Account,
    table: EntityTable,
    domains: dict[int, str],
) -> None:
    owners = list(account.users)
    count = int(config.organizations * config.persons_per_organization)
    records: list[Record] = []
    for person_id in range(1, count + 1):
        first, last = rng.pick(_FIRST), rng.pick(_LAST)
        org_id = (
            rng.between(1, config.organizations) if config.organizations and rng.random() < 0.95 else None
        )
        emails = _person_emails(rng, first, last, domains.get(org_id) if org_id else None)
        added, updated = _time_pair(rng, now)
        phones = [{"value": f"+372 5{rng.between(100000, 999999)}", "primary": True, "label": "work"}]
        data = {
            "id": person_id,
            "name": f"{first} {last}",
            "first_name": first,
            "last_name": last,
            "owner_id": owners[person_id % len(owners)],
            "org_id": org_id,
            "add_time": format_time(added),
            "update_time": format_time(updated),
            "emails": emails,
            "phones": phones if rng.random() < 0.7 else [],
            "is_deleted": False,
            "visible_to": VISIBLE_TO_OWNER_AND_FOLLOWERS,
            "label_ids": [],
            "picture_id": None,
            "custom_fields": {},
        }
        records.append(Record(person_id, data, added, updated))
    table.bulk_load(records)


def _person_emails(rng: FastRandom, first: str, last: str, domain: str | None) -> list[dict[str, Any]]:
    emails: list[dict[str, Any]] = []
    if domain:
        local = rng.pick((f"{first}.{last}", f"{first[0]}{last}", first)).lower()
        emails.append({"value": f"{local}@{domain}", "primary": True, "label": "work"})
        # Shared mailboxes: several persons of one organization carry the same address.
        if rng.random() < 0.1:
            emails.append({"value": f"info@{domain}", "primary": False, "label": "other"})
    if not emails or rng.random() < 0.3:
        personal = f"{first.lower()}.{last.lower()}{rng.between(1, 99)}@{rng.pick(_PERSONAL_DOMAINS)}"
        emails.append({"value": personal, "primary": not emails, "label": "home"})
    return emails


def _seed_deals(
    config: SandboxConfig, rng: FastRandom, now: int, account: Account, tables: dict[Entity, EntityTable]
) -> None:
    owners = list(account.users)
    stages = list(account.stages.values())
    persons = tables[Entity.PERSON].records
    count = int(config.organizations * config.deals_per_organization)
    records: list[Record] = []
    for deal_id in range(1, count + 1):
        person_id = rng.between(1, len(persons)) if persons else None
        org_id = persons[person_id].data["org_id"] if person_id else None
        if org_id is None and config.organizations:
            org_id = rng.between(1, config.organizations)
        stage = rng.pick(stages)
        added, updated = _time_pair(rng, now)
        status = rng.pick(("open", "open", "open", "won", "lost"))
        closed = format_time(updated) if status != "open" else None
        deleted = rng.random() < 0.02
        data: dict[str, Any] = {
            "id": deal_id,
            "title": f"Deal {deal_id}",
            "owner_id": owners[deal_id % len(owners)],
            "person_id": person_id,
            "org_id": org_id,
            "pipeline_id": stage.pipeline_id,
            "stage_id": stage.id,
            "value": rng.between(1, 500) * 100,
            "currency": rng.pick(_CURRENCIES),
            "add_time": format_time(added),
            "update_time": format_time(updated),
            "stage_change_time": format_time(added),
            "is_deleted": deleted,
            "is_archived": False,
            "status": status,
            "probability": None,
            "lost_reason": "Budget" if status == "lost" else None,
            "visible_to": VISIBLE_TO_OWNER_AND_FOLLOWERS,
            "close_time": closed,
            "won_time": closed if status == "won" else None,
            "lost_time": closed if status == "lost" else None,
            "expected_close_date": format_date(added + 90 * SECONDS_PER_DAY),
            "label_ids": [],
            "origin": "ManuallyCreated",
            "origin_id": None,
            "channel": None,
            "channel_id": None,
            "arr": None,
            "mrr": None,
            "acv": None,
            "custom_fields": {},
        }
        record = Record(deal_id, data, added, updated)
        if deleted:
            # Deleted deals were deleted recently, so `status=deleted` lists find some.
            record.deleted_ts = updated = max(updated, now - rng.between(0, 20) * SECONDS_PER_DAY)
            record.update_ts = updated
            data["update_time"] = format_time(updated)
        records.append(record)
    tables[Entity.DEAL].bulk_load(records)
