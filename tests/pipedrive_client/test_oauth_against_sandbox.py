"""OAuth against the sandbox: code exchange, refresh before expiry and on 401, single-flight across
replicas, rotated refresh tokens persisted, revoked grants, and the api_domain allow-list."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp
import asyncpg
import pytest
from pydantic import SecretStr

from pipedrive_client import (
    ApiDomainPolicy,
    ApiDomainRejected,
    ApiTokenCredentials,
    InvalidApiKey,
    OAuthApp,
    OAuthCredentials,
    OAuthStateStore,
    PipedriveClientFactory,
    authorize_url,
)
from tests.pipedrive_client.conftest import FactoryMaker
from tests.pipedrive_client.oauth_flow import approve
from tests.pipedrive_client.sandbox_server import RecordingSandbox


async def _connect(
    factory: PipedriveClientFactory, session: aiohttp.ClientSession, app: OAuthApp, tenant: str
) -> OAuthCredentials:
    """The connect flow: code exchange, then the credentials stored for the tenant."""
    state = "state-for-test"
    callback = await approve(session, app, state)
    assert callback["state"] == state
    assert factory.oauth_tokens is not None
    credentials = await factory.oauth_tokens.exchange_code(callback["code"])
    await factory.credentials.save(tenant, credentials)
    return credentials


def _token_calls(sandbox: RecordingSandbox, grant_type: str) -> int:
    return sum(
        1
        for r in sandbox.received
        if r.path == "/oauth/token" and f"grant_type={grant_type}".encode() in r.body
    )


async def _expire(factory: PipedriveClientFactory, tenant: str, at: float) -> None:
    stored = (await factory.credentials.load(tenant)).credentials
    assert isinstance(stored, OAuthCredentials)
    await factory.credentials.save(tenant, dataclasses.replace(stored, expires_at=at))


async def test_the_connect_flow_checks_state_exchanges_the_code_and_calls_with_a_bearer_token(
    factory: PipedriveClientFactory,
    sandbox: RecordingSandbox,
    http_session: aiohttp.ClientSession,
    oauth_app: OAuthApp,
    pg_pool: asyncpg.Pool,
    schema: str,
    tenant: str,
) -> None:
    states = OAuthStateStore(pg_pool, schema)
    state = await states.issue(tenant, "admin-session")
    assert f"state={state}" in authorize_url(oauth_app, state)
    callback = await approve(http_session, oauth_app, state)

    connecting = (await states.consume(callback["state"], "admin-session")).tenant_id
    assert factory.oauth_tokens is not None
    credentials = await factory.oauth_tokens.exchange_code(callback["code"])
    await factory.credentials.save(connecting, credentials)
    me = await factory.for_tenant(tenant).users.me()

    assert me.company_id == sandbox.handle.state.config.company_id
    assert credentials.api_domain == sandbox.base_url
    token_request = next(r for r in sandbox.received if r.path == "/oauth/token")
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert token_request.content_type == "application/x-www-form-urlencoded"
    api_call = sandbox.api_requests()[-1]
    assert api_call.headers["Authorization"] == f"Bearer {credentials.access_token.get_secret_value()}"


async def test_two_replicas_refreshing_at_once_make_exactly_one_token_call(
    make_factory: FactoryMaker,
    sandbox: RecordingSandbox,
    http_session: aiohttp.ClientSession,
    oauth_app: OAuthApp,
    tenant: str,
) -> None:
    replica_a, replica_b = make_factory(), make_factory()
    original = await _connect(replica_a, http_session, oauth_app, tenant)
    await _expire(replica_a, tenant, time.time() - 1)
    version_before = (await replica_a.credentials.load(tenant)).version

    me_a, me_b = await asyncio.gather(
        replica_a.for_tenant(tenant).users.me(), replica_b.for_tenant(tenant).users.me()
    )

    assert me_a.id == me_b.id
    assert _token_calls(sandbox, "refresh_token") == 1
    stored = await replica_b.credentials.load(tenant)
    assert stored.version == version_before + 1
    assert isinstance(stored.credentials, OAuthCredentials)
    assert stored.credentials.refresh_token != original.refresh_token  # the rotated one was kept
    assert stored.credentials.expires_at > time.time() + 3000


async def test_a_token_close_to_expiry_is_refreshed_before_the_call(
    factory: PipedriveClientFactory,
    sandbox: RecordingSandbox,
    http_session: aiohttp.ClientSession,
    oauth_app: OAuthApp,
    tenant: str,
) -> None:
    await _connect(factory, http_session, oauth_app, tenant)
    await _expire(factory, tenant, time.time() + 60)  # inside the 300-second margin

    await factory.for_tenant(tenant).organizations.get(1)

    assert _token_calls(sandbox, "refresh_token") == 1
    assert [e.status for e in sandbox.handle.state.ledger.entries] == [200]


async def test_a_401_refreshes_once_and_retries(
    factory: PipedriveClientFactory,
    sandbox: RecordingSandbox,
    http_session: aiohttp.ClientSession,
    oauth_app: OAuthApp,
    tenant: str,
) -> None:
    credentials = await _connect(factory, http_session, oauth_app, tenant)
    sandbox.handle.state.oauth.revoke_token(credentials.access_token.get_secret_value())

    org = await factory.for_tenant(tenant).organizations.get(1)

    assert org.id == 1
    assert [e.status for e in sandbox.handle.state.ledger.entries] == [401, 200]
    assert _token_calls(sandbox, "refresh_token") == 1


async def test_a_revoked_grant_is_an_invalid_api_key_and_marks_the_credentials_refused(
    factory: PipedriveClientFactory,
    sandbox: RecordingSandbox,
    http_session: aiohttp.ClientSession,
    oauth_app: OAuthApp,
    tenant: str,
) -> None:
    credentials = await _connect(factory, http_session, oauth_app, tenant)
    for token in (credentials.access_token, credentials.refresh_token):
        sandbox.handle.state.oauth.revoke_token(token.get_secret_value())

    with pytest.raises(InvalidApiKey, match=r"^Invalid API key$"):
        await factory.for_tenant(tenant).organizations.get(1)
    refused = await factory.credentials.load(tenant)
    with pytest.raises(InvalidApiKey, match=r"refused the refresh token \(.*\); reconnect Pipedrive$"):
        await factory.for_tenant(tenant).organizations.get(1)

    assert refused.refused_reason is not None and "refresh token" in refused.refused_reason
    assert _token_calls(sandbox, "refresh_token") == 1, "a refused refresh token is not tried again"
    assert [e.status for e in sandbox.handle.state.ledger.entries] == [401]
    renewed = await _connect(factory, http_session, oauth_app, tenant)  # the admin reconnects
    assert (await factory.credentials.load(tenant)).refused_reason is None
    assert (await factory.for_tenant(tenant).organizations.get(1)).id == 1
    assert renewed.access_token != credentials.access_token


async def test_a_revoked_api_token_marks_the_credentials_refused_and_is_not_sent_again(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, tenant: str
) -> None:
    token = sandbox.handle.api_token
    await factory.credentials.save(tenant, ApiTokenCredentials(SecretStr(token), sandbox.base_url))
    sandbox.handle.state.revoked_api_tokens.add(token)

    with pytest.raises(InvalidApiKey, match=r"^Invalid API key$"):
        await factory.for_tenant(tenant).organizations.get(1)
    with pytest.raises(InvalidApiKey, match="refused the API token"):
        await factory.for_tenant(tenant).organizations.get(1)

    assert [e.status for e in sandbox.handle.state.ledger.entries] == [401]


async def test_an_api_domain_outside_the_allow_list_is_rejected_at_exchange(
    make_factory: FactoryMaker, http_session: aiohttp.ClientSession, oauth_app: OAuthApp
) -> None:
    strict = make_factory(policy=ApiDomainPolicy())  # the sandbox URL is not configured
    callback = await approve(http_session, oauth_app, "s")

    assert strict.oauth_tokens is not None
    with pytest.raises(ApiDomainRejected):
        await strict.oauth_tokens.exchange_code(callback["code"])
