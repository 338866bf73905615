"""The console's templates compile, and its pure helpers say what they should."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from console.bootstrap import HERE
from console.error_help import COMMON_ERRORS, help_for
from console.pipedrive_links import record_url
from console.settings_pages import direction_summary, settings_body
from console.template_filters import FILTERS, when

TEMPLATES = sorted(p.relative_to(HERE / "templates").as_posix() for p in (HERE / "templates").rglob("*.html"))


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_compiles(name: str) -> None:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    environment.filters.update(FILTERS)
    environment.get_template(name)


def test_the_standard_errors_are_explained_once_each_in_their_order() -> None:
    found = help_for(["Rate limit exceeded (429)", None, "invalid api key", "Invalid API key"])
    assert [h.message for h in found] == ["Invalid API key", "Rate limit exceeded"]
    assert [h.message for h in COMMON_ERRORS] == [
        "Invalid API key", "Rate limit exceeded", "Duplicate found", "Required field missing",
    ]  # fmt: skip
    assert help_for(["No changes"]) == []


@pytest.mark.parametrize(
    ("switches", "summary"),
    [
        ({"create_in_pipedrive": True, "update_in_abm": True}, "Sync both ways"),
        ({"update_in_pipedrive": True}, "Sync into Pipedrive"),
        ({"create_in_abm": True, "update_in_abm": True}, "Sync into ABM"),
        ({}, "Not syncing"),
    ],
)
def test_directions_read_as_the_product_names_them(switches: dict[str, bool], summary: str) -> None:
    assert direction_summary(switches) == summary


def test_saving_one_tab_keeps_the_rest_of_the_settings_as_they_are() -> None:
    saved = {
        "version": 3,
        "connected": True,
        "objects": {
            "organization": {
                "directions": {"create_in_abm": True},
                "fields": [{"abm_field": "name", "pipedrive_field": "name", "custom": False,
                            "field_code": None, "to_pipedrive": "fill", "to_abm": "overwrite"}],
            },
        },
        "frequency": "6h",
        "auto_push": {"enabled": True, "score_threshold": 15, "visited_pages_as_activity": False},
        "organization_domain": {"custom_field_label": "Domain", "custom_field_code": "a" * 40,
                                "keep_subdomains": True},
    }  # fmt: skip

    body = settings_body(saved)

    assert body["objects"]["organization"]["fields"] == [
        {
            "abm_field": "name",
            "pipedrive_field": "name",
            "custom": False,
            "to_pipedrive": "fill",
            "to_abm": "overwrite",
        }
    ]
    assert body["objects"]["person"] == {"directions": {}, "fields": []}
    assert (body["frequency"], body["auto_push"]["score_threshold"]) == ("6h", 15)
    assert body["organization_domain"] == {"custom_field_label": "Domain", "keep_subdomains": True}


def test_links_and_dates_read_as_people_read_them() -> None:
    assert (
        record_url("https://acme.pipedrive.com/", "organization", 7)
        == "https://acme.pipedrive.com/organization/7"
    )
    assert record_url(None, "organization", 7) is None
    assert record_url("https://acme.pipedrive.com", "activity", 7) is None
    assert when("2026-05-04T15:05:00+02:00") == "2026-05-04 13:05 UTC"
    assert when(None) == ""


def test_the_vendored_htmx_is_the_pinned_one() -> None:
    assert (HERE / "static" / "htmx-2.0.11.min.js").read_text().startswith("var htmx=function()")
    assert Path(HERE / "templates" / "base.html").read_text().count("htmx-2.0.11.min.js") == 1
