"""The connector's answers to what Pipedrive refused: 409 when the credentials no longer work, 429 when
the budget or the rate limit says wait, 502 otherwise."""

from __future__ import annotations

import orjson
import pytest

from connector.api_support import pipedrive_failure
from pipedrive_client import BudgetExhausted, InvalidApiKey, PipedriveError, PipedriveUnavailable


@pytest.mark.parametrize(
    ("failure", "status", "error"),
    [
        # Found by probing `make up`: an import preview of a tenant whose daily budget was spent answered
        # a 500 (KeyError: 429 in json_error) instead of this 429.
        (BudgetExhausted(resume_at=1_800_000_000), 429, "pipedrive_budget"),
        (InvalidApiKey("Invalid API key"), 409, "not_connected"),
        (PipedriveUnavailable("Pipedrive is away"), 502, "pipedrive_failed"),
    ],
)
def test_a_pipedrive_failure_is_answered_with_its_status(
    failure: PipedriveError, status: int, error: str
) -> None:
    answer = pipedrive_failure(failure)

    assert answer.text is not None
    assert (answer.status, orjson.loads(answer.text)["error"]) == (status, error)
