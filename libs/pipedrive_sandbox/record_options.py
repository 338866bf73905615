"""The optional parts of a v2 organization, person or deal, asked for by query parameters of the list and
get operations, as the published spec describes them:

- `include_fields`: comma-separated extra attributes from the operation's enum (counts of related
  deals, persons and activities, next and last activity, the Smart BCC address, ...); a value outside the
  enum is refused. `marketing_status` and `doi_status` need the marketing app, which the sandbox company
  does not have: they are left out, as Pipedrive leaves them out.
- `custom_fields`: comma-separated custom field keys, at most 15: only those custom fields are returned.
- `include_option_labels`: single and multiple option custom field values as `{id, label}`.
- `include_labels`: `labels`, the label objects of `label_ids`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.query_params import query_bool
from pipedrive_sandbox.state import SandboxState
from pipedrive_sandbox.store import Entity, Record

MAX_CUSTOM_FIELD_KEYS = 15
_ACTIVITY_COUNTS = ("activities_count", "done_activities_count", "undone_activities_count")
_NOT_TRACKED = (
    "email_messages_count", "files_count", "notes_count", "products_count",
)  # fmt: skip
_MAIL_TIMES = ("last_incoming_mail_time", "last_outgoing_mail_time")
_DEAL_COUNTS = {
    "open_deals_count": "open",
    "related_open_deals_count": "open",
    "participant_open_deals_count": "open",
    "won_deals_count": "won",
    "related_won_deals_count": "won",
    "lost_deals_count": "lost",
    "related_lost_deals_count": "lost",
}
_CLOSED_DEAL_COUNTS = ("closed_deals_count", "related_closed_deals_count", "participant_closed_deals_count")
_COMMON = ("next_activity_id", "last_activity_id", *_ACTIVITY_COUNTS, "files_count", "notes_count")
INCLUDABLE: dict[Entity, frozenset[str]] = {
    Entity.DEAL: frozenset(
        (*_COMMON, "first_won_time", "products_count", "followers_count", "email_messages_count",
         "participants_count", *_MAIL_TIMES, "smart_bcc_email", "source_lead_id")
    ),
    Entity.ORGANIZATION: frozenset(
        (*_COMMON, "open_deals_count", "related_open_deals_count", "closed_deals_count",
         "related_closed_deals_count", "email_messages_count", "people_count", "followers_count",
         "won_deals_count", "related_won_deals_count", "lost_deals_count", "related_lost_deals_count",
         "smart_bcc_email")
    ),
    Entity.PERSON: frozenset(
        (*_COMMON, "open_deals_count", "related_open_deals_count", "closed_deals_count",
         "related_closed_deals_count", "participant_open_deals_count", "participant_closed_deals_count",
         "email_messages_count", "followers_count", "won_deals_count", "related_won_deals_count",
         "lost_deals_count", "related_lost_deals_count", *_MAIL_TIMES, "marketing_status", "doi_status",
         "smart_bcc_email")
    ),
}  # fmt: skip
_NEEDS_MARKETING_APP = frozenset({"marketing_status", "doi_status"})
_DEAL_LINK = {Entity.ORGANIZATION: "org_id", Entity.PERSON: "person_id", Entity.DEAL: "deal_id"}


@dataclass(frozen=True)
class RecordOptions:
    """What a list or get call asked to add to (or keep of) each record."""

    include: tuple[str, ...] = ()
    custom_keys: frozenset[str] | None = None
    option_labels: bool = False
    labels: bool = False

    @property
    def plain(self) -> bool:
        """Whether records go out exactly as stored."""
        return not self.include and self.custom_keys is None and not self.option_labels and not self.labels


def record_options(request: web.Request, entity: Entity) -> RecordOptions:
    """The options of a request, refused (400) as Pipedrive refuses them."""
    return RecordOptions(
        _include_fields(request, entity),
        _custom_field_keys(request),
        query_bool(request, "include_option_labels"),
        query_bool(request, "include_labels"),
    )


def _listed(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _include_fields(request: web.Request, entity: Entity) -> tuple[str, ...]:
    wanted = _listed(request.query.get("include_fields", ""))
    unknown = sorted(set(wanted) - INCLUDABLE[entity])
    if unknown:
        allowed = ", ".join(sorted(INCLUDABLE[entity]))
        raise InvalidRequest(f"include_fields: {', '.join(unknown)} is not one of {allowed}")
    return tuple(dict.fromkeys(name for name in wanted if name not in _NEEDS_MARKETING_APP))


def _custom_field_keys(request: web.Request) -> frozenset[str] | None:
    raw = request.query.get("custom_fields")
    if raw is None:
        return None
    keys = frozenset(_listed(raw))
    if len(keys) > MAX_CUSTOM_FIELD_KEYS:
        raise InvalidRequest(f"custom_fields accepts at most {MAX_CUSTOM_FIELD_KEYS} keys")
    return keys


def render(
    state: SandboxState, entity: Entity, records: Iterable[Record], options: RecordOptions
) -> list[dict[str, Any]]:
    """The records as the call asked for them (the stored dicts themselves when nothing was asked)."""
    chosen = list(records)
    if options.plain:
        return [record.data for record in chosen]
    related = _Related(state, entity, options.include) if options.include else None
    definitions = state.account.custom_fields(entity)
    rendered = []
    for record in chosen:
        data = dict(record.data)
        custom: dict[str, Any] = dict(data.get("custom_fields") or {})
        if options.custom_keys is not None:
            custom = {key: value for key, value in custom.items() if key in options.custom_keys}
        if options.option_labels:
            custom = {key: _labelled(definitions.get(key), value) for key, value in custom.items()}
        data["custom_fields"] = custom
        if options.labels:
            data["labels"] = [{"id": label_id, "label": None} for label_id in data.get("label_ids") or []]
        if related is not None:
            data.update(related.fields_of(record))
        rendered.append(data)
    return rendered


def _labelled(definition: Any, value: Any) -> Any:
    if definition is None or value is None or definition.field_type not in ("enum", "set"):
        return value
    labels = {int(option["id"]): option.get("label") for option in definition.options or []}
    if definition.field_type == "enum":
        return {"id": value, "label": labels.get(value)}
    return [{"id": item, "label": labels.get(item)} for item in value]


class _Related:
    """Counts of what is linked to the records of one page, computed once for the page."""

    def __init__(self, state: SandboxState, entity: Entity, include: tuple[str, ...]) -> None:
        self._state, self._entity, self._include = state, entity, include
        link = _DEAL_LINK[entity]
        self._activities: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for activity in state.activities.records.values():
            if not activity["is_deleted"] and activity.get(link) is not None:
                self._activities[activity[link]].append(activity)
        self._deals: dict[int, Counter[str]] = defaultdict(Counter)
        self._people: Counter[int] = Counter()
        if entity is not Entity.DEAL:
            for deal in state.tables[Entity.DEAL].live():
                owner_id = deal.data.get(link)
                if owner_id is not None:
                    self._deals[owner_id][deal.data.get("status", "open")] += 1
        if entity is Entity.ORGANIZATION:
            for person in state.tables[Entity.PERSON].live():
                if person.data.get("org_id") is not None:
                    self._people[person.data["org_id"]] += 1

    def fields_of(self, record: Record) -> dict[str, Any]:
        """The included fields of one record."""
        values = self._values(record)
        return {name: values.get(name) for name in self._include}

    def _values(self, record: Record) -> Mapping[str, Any]:
        activities = self._activities.get(record.id, [])
        done = [a for a in activities if a["done"]]
        undone = [a for a in activities if not a["done"]]
        deals = self._deals.get(record.id, Counter())
        values: dict[str, Any] = {
            "activities_count": len(activities),
            "done_activities_count": len(done),
            "undone_activities_count": len(undone),
            "next_activity_id": min((a["id"] for a in undone), default=None),
            "last_activity_id": max((a["id"] for a in done), default=None),
            "followers_count": 1,  # the owner follows what they own
            "people_count": self._people.get(record.id, 0),
            "participants_count": 1 if record.data.get("person_id") else 0,
            "first_won_time": record.data.get("won_time"),
            "source_lead_id": record.data.get("source_lead_id"),
            "smart_bcc_email": self._smart_bcc(record),
            **{name: 0 for name in _NOT_TRACKED},
            **{name: None for name in _MAIL_TIMES},
            **{name: deals[status] for name, status in _DEAL_COUNTS.items()},
            **{name: deals["won"] + deals["lost"] for name in _CLOSED_DEAL_COUNTS},
        }
        return values

    def _smart_bcc(self, record: Record) -> str:
        domain = self._state.config.company_domain
        return f"{domain}+{self._entity.value}{record.id}@pipedrivemail.com"
