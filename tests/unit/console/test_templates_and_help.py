"""The console's templates compile, and its pure helpers say what they should."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import jinja2
import pytest
from multidict import MultiDict

from console.bootstrap import HERE
from console.error_help import COMMON_ERRORS, help_for
from console.pipedrive_links import record_url
from console.push_pages import BROWSE_SHOWN, COLLECTIONS, _matching, _selection
from console.service_api import TenantApi
from console.settings_pages import direction_summary, settings_patch
from console.template_filters import FILTERS, has_ended, when

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


def test_saving_one_tab_patches_only_what_it_shows() -> None:
    form = MultiDict(
        [("rows", "3"), ("create_in_pipedrive", "on"), ("update_in_abm", "on"),
         ("abm_field_0", "name"), ("code_0", "name"), ("label_0", "Name"), ("custom_0", "false"),
         ("to_pipedrive_0", "fill"), ("to_abm_0", "overwrite"),
         ("abm_field_1", ""), ("code_1", "industry"), ("label_1", "Industry"), ("custom_1", "false"),
         ("abm_field_2", "engagement_score"), ("code_2", "8a9a"), ("label_2", "ABM score"),
         ("custom_2", "true"),
         ("to_pipedrive_2", "overwrite"), ("to_abm_2", "dont_sync"), ("domain_field", "")]
    )  # fmt: skip

    patch, rows = settings_patch("organization", form, {})

    assert patch["objects"]["organization"]["directions"] == {
        "create_in_pipedrive": True, "update_in_pipedrive": False,
        "create_in_abm": False, "update_in_abm": True,
    }  # fmt: skip
    assert patch["objects"]["organization"]["fields"] == [
        {"abm_field": "name", "pipedrive_field": "name", "custom": False, "to_pipedrive": "fill",
         "to_abm": "overwrite"},
        {"abm_field": "engagement_score", "pipedrive_field": "ABM score", "custom": True,
         "to_pipedrive": "overwrite", "to_abm": "dont_sync"},
    ]  # fmt: skip
    assert rows == {0: 0, 1: 2}
    assert patch["organization_domain"] == {"custom_field_label": None, "keep_subdomains": False}
    errors: dict[str, str] = {}
    schedule, _ = settings_patch(
        "schedule", MultiDict([("frequency", "6h"), ("score_threshold", "x")]), errors
    )
    assert schedule["frequency"] == "6h" and "auto_push.score_threshold" in errors


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


def test_a_run_has_ended_once_it_shows_a_final_status() -> None:
    statuses = (None, "running", "finishing", "Success", "Warning", "Error")
    assert [has_ended({"status": s}) for s in statuses] == [False, False, False, True, True, True]


def _run_summary(status: str, pending: int) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    environment.filters.update(FILTERS)
    run: dict[str, Any] = {
        "run_id": "push-1", "service": "pusher", "kind": "push", "direction": "to_pipedrive",
        "objects": ["organization"], "started_at": "2026-11-01T09:00:00+00:00", "status": status,
        "finished_at": None if status == "finishing" else "2026-11-01T09:01:00+00:00", "failed": 1,
        "results_pending": pending, "links": {},
    }  # fmt: skip
    return environment.get_template("fragments/run_summary.html").render(run=run, kinds={})


def test_a_finishing_run_says_it_is_receiving_results_and_keeps_refreshing() -> None:
    finishing = _run_summary("finishing", 2)
    assert "Finishing" in finishing and "Receiving results: 2 record(s) still to come" in finishing
    assert 'hx-trigger="every 2s"' in finishing
    final = _run_summary("Error", 0)
    assert ">Error<" in final and "Receiving results" not in final and "hx-trigger" not in final


def _push_page(records: list[dict[str, Any]], matching: int | None) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    environment.filters.update(FILTERS)
    return environment.get_template("push.html").render(
        selection=_selection(MultiDict()),
        collections=COLLECTIONS,
        records=records[:BROWSE_SHOWN],
        matching=matching,
        limit=2000,
        session={"is_admin": True, "email": "admin@acme.example", "role": {"value": "admin"}},
    )


def _accounts(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"abm_id": f"a{i}", "match_key": f"acme{i}.io", "fields": {"name": f"Acme {i}"}}
        for i in range(start, start + n)
    ]


def test_the_push_page_lists_the_first_hundred_matches_and_offers_all_of_them() -> None:
    counted = _push_page(_accounts(250), matching=250)
    assert counted.count('name="abm_id"') == BROWSE_SHOWN == 100
    assert "Select all 250 that match" in counted
    assert "Showing the first 100 of 250 that match" in counted
    uncounted = _push_page(_accounts(101), matching=None)
    assert uncounted.count('name="abm_id"') == 100
    assert "Select all that match" in uncounted and "more match" in uncounted
    few = _push_page(_accounts(3), matching=3)
    assert "Select all 3 that match" in few and 'id="push-shown"' not in few


class _PagedMapper:
    """The mapper's accounts API in pages of 500, counting the calls."""

    def __init__(self, total: int) -> None:
        self.records, self.calls = _accounts(total), 0

    async def get(self, service: str, path: str, params: dict[str, str]) -> Any:
        self.calls += 1
        start = int(params.get("cursor", "0"))
        page = self.records[start : start + 500]
        more = start + 500 < len(self.records)
        body = {"data": page, "next_cursor": str(start + 500) if more else None}
        return type("Answer", (), {"ok": True, "body": body})()


async def test_the_list_to_pick_from_reads_one_page_a_selection_reads_them_all() -> None:
    mapper = _PagedMapper(1200)
    shown, more = await _matching(cast(TenantApi, mapper), _selection(MultiDict()), enough=BROWSE_SHOWN)
    assert (len(shown), more, mapper.calls) == (500, True, 1)
    mapper.calls = 0
    everything, more = await _matching(cast(TenantApi, mapper), _selection(MultiDict()))
    assert (len(everything), more, mapper.calls) == (1200, False, 3)


def _run_records(entries: list[dict[str, Any]]) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    environment.filters.update(FILTERS)
    run = {"run_id": "apply-1", "failed": 0, "links": {}}
    session = {"is_admin": True}
    return environment.get_template("fragments/run_records.html").render(
        run=run, entries=entries, outcome="", session=session, csrf_token="t"
    )


def test_a_runs_records_name_each_record_when_its_result_does() -> None:
    entry = {"object": "organization", "match_key": "-", "outcome": "skipped",
             "message": "No usable match key", "occurred_at": "2026-11-01T09:00:00+00:00"}  # fmt: skip

    named = _run_records([{**entry, "name": "Acme <GmbH>"}])
    unnamed = _run_records([{**entry, "name": None}])

    assert '<td data-label="Record">Organization<div class="hint">Acme &lt;GmbH&gt;</div></td>' in named
    assert '<td data-label="Record">Organization</td>' in unnamed
