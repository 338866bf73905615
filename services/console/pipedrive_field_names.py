"""The names people read for Pipedrive's built-in fields when the account's catalog (which lists every
field with its label) is not at hand, Pipedrive not being connected: Pipedrive's own label of each
built-in field, as its fields API lists it, else the field's code in words (`lost_reason`: "Lost reason")."""

from __future__ import annotations

_COMMON = {
    "id": "ID",
    "owner_id": "Owner",
    "update_time": "Update time",
    "label_ids": "Labels",
    "visible_to": "Visible to",
}
BUILT_IN_LABELS: dict[str, dict[str, str]] = {
    "organization": {
        **_COMMON,
        "name": "Name",
        "add_time": "Organization created",
        "website": "Website",
        "address": "Address",
        "linkedin": "LinkedIn profile",
        "industry": "Industry",
        "annual_revenue": "Annual revenue",
        "employee_count": "Number of employees",
    },
    "person": {
        **_COMMON,
        "name": "Name",
        "add_time": "Person created",
        "org_id": "Organization",
        "emails": "Email",
        "phones": "Phone",
        "job_title": "Job title",
        "birthday": "Birthday",
        "notes": "Notes",
        "postal_address": "Postal address",
    },
    "deal": {
        **_COMMON,
        "title": "Title",
        "add_time": "Deal created",
        "value": "Value",
        "currency": "Currency",
        "pipeline_id": "Pipeline",
        "stage_id": "Stage",
        "status": "Status",
        "expected_close_date": "Expected close date",
        "org_id": "Organization",
        "person_id": "Contact person",
        "probability": "Probability",
        "won_time": "Won time",
        "lost_time": "Lost time",
        "close_time": "Deal closed on",
        "lost_reason": "Lost reason",
        "stage_change_time": "Last stage change",
    },
}
"""Pipedrive's labels of the built-in fields of each object (the catalog's `label` of a connected
account's field; an account cannot rename them)."""


def built_in_field_name(pipedrive_object: str, code: str) -> str:
    """Pipedrive's label of a built-in field, or its code in words."""
    return BUILT_IN_LABELS.get(pipedrive_object, {}).get(code) or code_in_words(code)


def code_in_words(code: str) -> str:
    """`owner_id` as "Owner", `expected_close_date` as "Expected close date"."""
    words = code.removesuffix("_id").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else code
