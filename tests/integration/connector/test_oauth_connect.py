"""Connecting by OAuth through the connector's API, against the sandbox's OAuth server: the authorize
redirect carries a fresh unguessable state bound to the caller's key; only the right state connects, and
a caller who is not its owner is refused without using it up; tokens are stored encrypted and appear
nowhere else; a sync works and the token is refreshed on expiry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from structlog.testing import capture_logs

from connector.queued_runs import RunKindName
from pipedrive_client import OAuthCredentials
from schemas.topics import SETTINGS, SYNC_RUNS
from tenant_auth.keys import split_api_key
from tests.integration.connector.conftest import ConnectorHarness
from tests.pipedrive_client.oauth_flow import approve

pytestmark = pytest.mark.integration


class Answers:
    """Every HTTP answer a test received (status, headers and body), to search for secrets."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def keep(self, response: aiohttp.ClientResponse) -> aiohttp.ClientResponse:
        """Remember the answer and hand it back."""
        self.seen.append(f"{response.status} {dict(response.headers)} {await response.text()}")
        return response


async def _authorize(harness: ConnectorHarness, headers: dict[str, str], answers: Answers) -> str:
    """The state of a fresh authorize redirect (checked to point at the sandbox's consent page)."""
    response = await answers.keep(
        await harness.api.get("/v1/connection/oauth/authorize", headers=headers, allow_redirects=False)
    )
    assert response.status == 302, await response.text()
    location = urlsplit(response.headers["Location"])
    app = harness.connector.oauth_app
    assert app is not None
    assert f"{location.scheme}://{location.netloc}" == harness.sandbox.base_url
    assert location.path == "/oauth/authorize"
    query = parse_qs(location.query)
    assert query["client_id"] == [app.client_id] and query["redirect_uri"] == [app.redirect_uri]
    return query["state"][0]


async def _callback(
    harness: ConnectorHarness, headers: dict[str, str], query: dict[str, str], answers: Answers
) -> aiohttp.ClientResponse:
    return await answers.keep(
        await harness.api.get("/v1/connection/oauth/callback", params=query, headers=headers)
    )


async def _consent(harness: ConnectorHarness, state: str) -> dict[str, str]:
    app = harness.connector.oauth_app
    assert app is not None
    async with aiohttp.ClientSession() as browser:
        return await approve(browser, app, state)


async def _status(harness: ConnectorHarness, headers: dict[str, str]) -> dict[str, object]:
    body: dict[str, object] = await (await harness.api.get("/v1/connection", headers=headers)).json()
    return body


def _token_calls(harness: ConnectorHarness, grant_type: str) -> int:
    return sum(
        1
        for r in harness.sandbox.received
        if r.path == "/oauth/token" and f"grant_type={grant_type}".encode() in r.body
    )


async def _stored(harness: ConnectorHarness) -> OAuthCredentials:
    stored = (await harness.connector.factory.credentials.load(harness.tenant)).credentials
    assert isinstance(stored, OAuthCredentials)
    return stored


async def _raw_rows(harness: ConnectorHarness) -> str:
    """Everything stored about the tenant in the client's and the connector's tables, as text."""
    deps = harness.connector
    client_schema = deps.settings.pipedrive.client_schema
    rows = [
        *await deps.pool.fetch(
            f"SELECT * FROM {client_schema}.credentials WHERE tenant_id = $1", harness.tenant
        ),
        *await deps.pool.fetch(
            f"SELECT * FROM {client_schema}.oauth_states WHERE tenant_id = $1", harness.tenant
        ),
        *await deps.pool.fetch(
            f"SELECT * FROM {deps.settings.db_schema}.runs WHERE tenant_id = $1", harness.tenant
        ),
        *await deps.pool.fetch(
            f"SELECT * FROM {deps.settings.db_schema}.tenant_settings WHERE tenant_id = $1", harness.tenant
        ),
    ]
    return " ".join(repr(dict(r)) for r in rows)  # bytes (the ciphertext) as their repr


def _secrets_of(credentials: Iterable[OAuthCredentials]) -> list[str]:
    return [s.get_secret_value() for c in credentials for s in (c.access_token, c.refresh_token)]


async def test_each_authorize_redirect_carries_a_fresh_unguessable_state_bound_to_the_callers_key(
    harness: ConnectorHarness,
) -> None:
    answers = Answers()
    first = await _authorize(harness, harness.headers, answers)
    second = await _authorize(harness, harness.headers, answers)

    assert first != second and min(len(first), len(second)) >= 43
    deps = harness.connector
    bound = await deps.pool.fetch(
        f"SELECT tenant_id, session_id FROM {deps.settings.pipedrive.client_schema}.oauth_states"
        " WHERE state = ANY($1::text[])",
        [first, second],
    )
    key_id, _ = split_api_key(harness.headers["Authorization"].partition(" ")[2])
    assert [(r["tenant_id"], r["session_id"]) for r in bound] == [(harness.tenant, key_id)] * 2


async def test_a_wrong_replayed_or_foreign_state_is_refused_changes_nothing_and_burns_no_owners_state(
    harness: ConnectorHarness,
) -> None:
    answers = Answers()
    other = await harness.new_tenant_headers(f"{harness.tenant}b")
    second_key = await harness.registry.issue_key(harness.tenant)
    same_tenant_other_session = {"Authorization": f"Bearer {second_key.full_key}"}

    mine = await _consent(harness, await _authorize(harness, harness.headers, answers))
    theirs = await _consent(harness, await _authorize(harness, other, answers))
    stolen = await _consent(harness, await _authorize(harness, harness.headers, answers))
    other_session = await _consent(harness, await _authorize(harness, harness.headers, answers))

    unknown = await _callback(harness, harness.headers, {**mine, "state": "x" * 43}, answers)
    foreign = await _callback(harness, harness.headers, theirs, answers)  # B's state at A's callback
    presented_by_b = await _callback(harness, other, stolen, answers)  # A's state at B's callback
    wrong_session = await _callback(harness, same_tenant_other_session, other_session, answers)
    missing = await _callback(harness, harness.headers, {"code": mine["code"]}, answers)

    for refused in (unknown, foreign, presented_by_b, wrong_session, missing):
        assert refused.status == 400, await refused.text()
    assert (await foreign.json())["error"] == "oauth_failed"
    assert await _status(harness, harness.headers) == {"connected": False}
    assert await _status(harness, other) == {"connected": False}
    assert _token_calls(harness, "authorization_code") == 0, "no code was traded on a refused state"
    assert await harness.events(SETTINGS.name) == []

    accepted = await _callback(harness, harness.headers, mine, answers)
    assert accepted.status == 200, await accepted.text()
    version = (await harness.connector.factory.credentials.load(harness.tenant)).version

    replayed = await _callback(harness, harness.headers, mine, answers)

    assert replayed.status == 400
    assert (await harness.connector.factory.credentials.load(harness.tenant)).version == version
    assert _token_calls(harness, "authorization_code") == 1
    # The wrong callers above used up none of the states they presented: each still works for its owner.
    for owner, owned in ((other, theirs), (harness.headers, stolen), (harness.headers, other_session)):
        completed = await _callback(harness, owner, owned, answers)
        assert completed.status == 200, await completed.text()
    assert (await _status(harness, other))["connected"] is True


async def test_connecting_by_oauth_stores_encrypted_tokens_syncs_and_refreshes_on_expiry_without_leaking(
    harness: ConnectorHarness,
) -> None:
    answers = Answers()
    with capture_logs() as logs:
        state = await _authorize(harness, harness.headers, answers)
        callback = await _consent(harness, state)
        connected = await _callback(harness, harness.headers, callback, answers)
        assert connected.status == 200, await connected.text()
        company = harness.sandbox.handle.state.config.company_id
        assert await connected.json() == {"connected": True, "kind": "oauth", "company_id": company}
        status = await _status(harness, harness.headers)
        answers.seen.append(repr(status))
        first_tokens = await _stored(harness)

        run = await harness.connector.runs.enqueue(harness.tenant, RunKindName.SYNC, "manual")
        assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
        synced = await harness.connector.runs.get(harness.tenant, run.run_id)

        ttl = harness.sandbox.handle.state.config.access_token_ttl_seconds
        harness.sandbox.handle.state.clock.advance(ttl + 1)  # the access token has expired
        again = await harness.connector.runs.enqueue(harness.tenant, RunKindName.SYNC, "manual")
        assert await harness.connector.scheduler.work_tenant(harness.tenant) == 1
        resynced = await harness.connector.runs.get(harness.tenant, again.run_id)
        refreshed = await _stored(harness)

    budget = cast(dict[str, Any], status.pop("budget"))
    assert status == {
        "connected": True,
        "kind": "oauth",
        "api_domain": harness.sandbox.base_url,
        "company_id": harness.sandbox.handle.state.config.company_id,
        "needs_reconnect": False,
        "plan": "lite",
    }
    assert (budget["daily_budget"], budget["allowance"], budget["share"]) == (30_000, 15_000, 0.5)
    assert 0 < budget["spent_today"] <= budget["allowance"]
    assert synced is not None and synced.status == "Success", synced and synced.message
    assert resynced is not None and resynced.status == "Success", resynced and resynced.message
    assert _token_calls(harness, "refresh_token") == 1
    assert refreshed.access_token != first_tokens.access_token
    assert refreshed.refresh_token != first_tokens.refresh_token  # the rotated one was kept
    bearer_calls = [r.headers.get("Authorization", "") for r in harness.sandbox.api_requests()]
    assert bearer_calls and all(h.startswith("Bearer ") for h in bearer_calls)
    assert bearer_calls[-1] == f"Bearer {refreshed.access_token.get_secret_value()}"
    assert synced.counts.created > 0

    settings_published = await harness.events(SETTINGS.name)
    assert settings_published[-1]["data"]["connected"] is True
    kafka = [
        *settings_published,
        *await harness.events(),
        *await harness.events(SYNC_RUNS.name),
    ]
    stored_rows = await _raw_rows(harness)
    for secret in _secrets_of([first_tokens, refreshed]):
        assert secret not in " ".join(answers.seen)
        assert secret not in str(logs)
        assert secret not in str(kafka)
        assert secret not in stored_rows  # only inside the AES-GCM ciphertext


async def test_a_denied_consent_spends_the_state_and_connects_nothing(harness: ConnectorHarness) -> None:
    answers = Answers()
    app = harness.connector.oauth_app
    assert app is not None
    state = await _authorize(harness, harness.headers, answers)
    form = {"client_id": app.client_id, "redirect_uri": app.redirect_uri, "state": state, "decision": "deny"}
    async with (
        aiohttp.ClientSession() as browser,
        browser.post(f"{app.oauth_base_url}/oauth/authorize", data=form, allow_redirects=False) as page,
    ):
        denied = {k: v[0] for k, v in parse_qs(urlsplit(page.headers["Location"]).query).items()}

    answer = await _callback(harness, harness.headers, denied, answers)

    assert denied == {"error": "user_denied", "state": state}
    assert answer.status == 400 and (await answer.json())["error"] == "oauth_denied"
    assert await _status(harness, harness.headers) == {"connected": False}
    deps = harness.connector
    left = await deps.pool.fetchval(
        f"SELECT count(*) FROM {deps.settings.pipedrive.client_schema}.oauth_states WHERE state = $1", state
    )
    assert left == 0
