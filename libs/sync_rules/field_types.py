"""Which ABM fields can be written into which Pipedrive fields: the kind of value each ABM field holds (as
the pusher writes it), and the kinds each Pipedrive field type takes.

A mapping that writes free text into an option, number, date, user or organization field saves, and then
every push of it is refused by Pipedrive ("visible_to must be an integer"); the settings check refuses it
up front with :func:`type_mismatch`. Pipedrive field types not listed here (booleans, times, links to
leads or projects) are let through: what they take is not known here, and nothing is refused on a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple

from sync_rules.objects import SyncObject


class AbmKind(StrEnum):
    """The kind of value an ABM field holds, as the pusher writes it into Pipedrive."""

    TEXT = "free text"
    INTEGER = "a whole number"
    NUMBER = "a number"
    DATE = "a date"
    TIME = "a date and time"
    USER = "an owner (written as the Pipedrive user with the owner's email)"
    ORGANIZATION = "an organization (its Pipedrive id)"
    PERSON = "a person (their Pipedrive id)"
    PIPELINE = "a pipeline (its Pipedrive id)"
    STAGE = "a stage (its Pipedrive id)"
    STATUS = "a deal status (open, won or lost)"


_T, _I, _N = AbmKind.TEXT, AbmKind.INTEGER, AbmKind.NUMBER
ABM_FIELD_KINDS: Mapping[SyncObject, Mapping[str, AbmKind]] = {
    SyncObject.ORGANIZATION: {
        "name": _T, "website": _T, "address": _T, "owner": AbmKind.USER, "add_time": AbmKind.TIME,
        "industry": _T, "employee_count": _I, "annual_revenue": _N, "country": _T, "linkedin": _T,
        "engagement_score": _I,
    },
    SyncObject.PERSON: {
        "name": _T, "email": _T, "phone": _T, "organization": AbmKind.ORGANIZATION, "owner": AbmKind.USER,
        "add_time": AbmKind.TIME, "job_title": _T, "company_domain": _T,
    },
    SyncObject.DEAL: {
        "title": _T, "value": _N, "currency": _T, "stage": AbmKind.STAGE, "pipeline": AbmKind.PIPELINE,
        "status": AbmKind.STATUS, "expected_close_date": AbmKind.DATE, "organization": AbmKind.ORGANIZATION,
        "person": AbmKind.PERSON, "owner": AbmKind.USER, "add_time": AbmKind.TIME, "won_time": AbmKind.TIME,
        "lost_time": AbmKind.TIME, "probability": _I,
    },
}  # fmt: skip
"""What each ABM field of `sync_rules.mappings.ABM_FIELDS` holds (ABM-CONTRACTS.md's payload types)."""


class PipedriveType(NamedTuple):
    """A Pipedrive field type as people read it, what it takes, and the ABM kinds that fit it."""

    called: str
    takes: str
    kinds: frozenset[AbmKind]


_TEXT = frozenset({_T})
_TEXT_FIELD = PipedriveType("a text field", "text", _TEXT)
_NO_ABM_KIND: frozenset[AbmKind] = frozenset()
PIPEDRIVE_TYPES: Mapping[str, PipedriveType] = {
    "varchar": _TEXT_FIELD,
    "varchar_auto": _TEXT_FIELD,
    "varchar_options": _TEXT_FIELD,
    "text": _TEXT_FIELD,
    "phone": PipedriveType("a phone field", "text", _TEXT),
    "address": PipedriveType("an address field", "text", _TEXT),
    "int": PipedriveType("a whole-number field", "whole numbers or ids", frozenset({_I, AbmKind.PIPELINE})),
    "double": PipedriveType("a number field", "numbers", frozenset({_I, _N})),
    "monetary": PipedriveType("a monetary field", "amounts", frozenset({_I, _N})),
    "date": PipedriveType("a date field", "dates", frozenset({AbmKind.DATE, AbmKind.TIME})),
    "user": PipedriveType("a user field", "Pipedrive users", frozenset({AbmKind.USER})),
    "org": PipedriveType("an organization field", "organizations", frozenset({AbmKind.ORGANIZATION})),
    "people": PipedriveType("a person field", "persons", frozenset({AbmKind.PERSON})),
    "stage": PipedriveType("a stage field", "pipeline stages", frozenset({AbmKind.STAGE})),
    "status": PipedriveType("a deal status field", "open, won or lost", frozenset({AbmKind.STATUS})),
    "enum": PipedriveType("a single-option field", "one of its options", _NO_ABM_KIND),
    "set": PipedriveType("a multiple-option field", "some of its options", _NO_ABM_KIND),
    "visible_to": PipedriveType("a visibility field", "one of its visibility options", _NO_ABM_KIND),
}
"""The Pipedrive field types whose values are known, and the ABM kinds each takes. Option fields (enum,
set, visibility) hold Pipedrive's option ids, which no ABM field holds."""


def abm_field_kind(obj: SyncObject, abm_field: str) -> AbmKind | None:
    """The kind of value an ABM field holds (None for a field the ABM platform does not keep)."""
    return ABM_FIELD_KINDS[obj].get(abm_field)


def type_mismatch(obj: SyncObject, abm_field: str, pipedrive_label: str, pipedrive_type: str) -> str | None:
    """Why the ABM field's values cannot be written into a Pipedrive field of this type, or None when
    they can (or either side's kind is not known)."""
    kind = abm_field_kind(obj, abm_field)
    known = PIPEDRIVE_TYPES.get(pipedrive_type)
    if kind is None or known is None or kind in known.kinds:
        return None
    return (
        f'"{pipedrive_label}" is {known.called} ({pipedrive_type}) in Pipedrive and takes {known.takes}; '
        f"ABM {abm_field} holds {kind.value}, which Pipedrive would refuse on every push: map it to "
        "another Pipedrive field or use dont_sync"
    )
