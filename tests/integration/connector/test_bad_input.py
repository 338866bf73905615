"""Bad input that needs a connected account to reach the code that reads it gets a 400 naming the problem,
never a 500: relative dates beyond what a calendar holds in an import filter, ids beyond bigint."""

from __future__ import annotations

import pytest

from tests.integration.connector.conftest import ConnectorHarness

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("body", "error", "named"),
    [
        (
            {"source": "filtered_organizations", "filter": "Add Time > last 99999999999999 days"},
            "bad_filter",
            "Column 17: at most 36500 days",
        ),
        (
            {"source": "filtered_organizations", "filter": "Add Time < next 999999 days"},
            "bad_filter",
            "Column 17: at most 36500 days",
        ),
        ({"source": "deals_at_stages", "stage_ids": [10**30]}, "bad_request", "stage_ids.0: "),
    ],
)
async def test_an_import_with_an_out_of_range_date_or_id_is_a_400_naming_it(
    harness: ConnectorHarness, body: dict[str, object], error: str, named: str
) -> None:
    await harness.connect_by_token()

    for path in ("/v1/imports/preview", "/v1/imports"):
        answer = await harness.api.post(path, json=body, headers=harness.headers)

        assert answer.status == 400, await answer.text()
        found = await answer.json()
        assert found["error"] == error and found["message"].startswith(named), found
    assert await harness.connector.runs.recent(harness.tenant) == []
