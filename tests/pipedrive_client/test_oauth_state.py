"""OAuth `state`: unguessable, bound to the admin's session, single use, expiring; a caller who is not its
owner is refused before the state is used up."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from pydantic import SecretStr

from pipedrive_client import IssuedState, OAuthApp, OAuthFailed, OAuthStateStore, authorize_url, new_state
from tests.pipedrive_client.fake_clock import FakeClock

APP = OAuthApp("client-1", SecretStr("s3cret"), "https://abm.example/callback")


def test_the_authorize_url_carries_client_redirect_and_state() -> None:
    url = urlsplit(authorize_url(APP, "st-1"))

    assert (url.scheme, url.netloc, url.path) == ("https", "oauth.pipedrive.com", "/oauth/authorize")
    assert parse_qs(url.query) == {
        "client_id": ["client-1"],
        "redirect_uri": ["https://abm.example/callback"],
        "state": ["st-1"],
    }
    assert "s3cret" not in authorize_url(APP, "st-1")


def test_states_are_unguessable() -> None:
    states = {new_state() for _ in range(100)}
    assert len(states) == 100 and all(len(s) >= 43 for s in states)


async def test_a_state_is_good_once_for_its_own_session(
    pg_pool: asyncpg.Pool, schema: str, tenant: str
) -> None:
    store = OAuthStateStore(pg_pool, schema, clock=FakeClock())
    state = await store.issue(tenant, "session-a", actor="ann@acme.test", return_to="https://c.test/x")

    assert await store.consume(state, "session-a") == IssuedState(
        tenant, "session-a", "ann@acme.test", "https://c.test/x"
    )
    with pytest.raises(OAuthFailed):
        await store.consume(state, "session-a")


async def test_a_state_presented_by_another_session_is_refused_and_stays_its_owners(
    pg_pool: asyncpg.Pool, schema: str, tenant: str
) -> None:
    store = OAuthStateStore(pg_pool, schema, clock=FakeClock())
    state = await store.issue(tenant, "session-a")

    with pytest.raises(OAuthFailed):
        await store.consume(state, "session-b")

    assert (await store.consume(state, "session-a")).tenant_id == tenant


async def test_without_a_session_the_state_itself_is_the_proof_once(
    pg_pool: asyncpg.Pool, schema: str, tenant: str
) -> None:
    store = OAuthStateStore(pg_pool, schema, clock=FakeClock())
    state = await store.issue(tenant, "session-a")

    assert (await store.consume(state)).session_id == "session-a"
    with pytest.raises(OAuthFailed):
        await store.consume(state)


async def test_an_expired_state_is_refused(pg_pool: asyncpg.Pool, schema: str, tenant: str) -> None:
    clock = FakeClock()
    store = OAuthStateStore(pg_pool, schema, ttl_seconds=600, clock=clock)
    state = await store.issue(tenant, "session-a")

    clock.time += 601
    with pytest.raises(OAuthFailed):
        await store.consume(state, "session-a")
