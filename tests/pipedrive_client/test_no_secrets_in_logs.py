"""No token, secret or token-bearing URL reaches the logs or error messages, through a full flow."""

from __future__ import annotations

import dataclasses
import time

import aiohttp
import pytest
import structlog
from pydantic import SecretStr

from pipedrive_client import (
    ApiTokenCredentials,
    InvalidApiKey,
    OAuthApp,
    OAuthCredentials,
    PipedriveClientFactory,
)
from tests.pipedrive_client.oauth_flow import approve
from tests.pipedrive_client.sandbox_server import RecordingSandbox


async def test_a_full_flow_logs_no_secret(
    factory: PipedriveClientFactory,
    sandbox: RecordingSandbox,
    http_session: aiohttp.ClientSession,
    oauth_app: OAuthApp,
    tenant: str,
) -> None:
    api_tenant, oauth_tenant = f"{tenant}-api", f"{tenant}-oauth"
    secrets: list[str] = [sandbox.handle.api_token, oauth_app.client_secret.get_secret_value()]
    failures: list[str] = []
    with structlog.testing.capture_logs() as logs:
        await factory.credentials.save(
            api_tenant, ApiTokenCredentials(SecretStr(sandbox.handle.api_token), sandbox.base_url)
        )
        api_client = factory.for_tenant(api_tenant)
        _ = [page async for page in api_client.organizations.iterate()]
        await api_client.organizations.create({"name": "Logged Org"})
        assert factory.oauth_tokens is not None
        credentials = await factory.oauth_tokens.exchange_code(
            (await approve(http_session, oauth_app, "s"))["code"]
        )
        expired = dataclasses.replace(credentials, expires_at=time.time() - 1)
        await factory.credentials.save(oauth_tenant, expired)
        await factory.for_tenant(oauth_tenant).users.me()
        refreshed = (await factory.credentials.load(oauth_tenant)).credentials
        assert isinstance(refreshed, OAuthCredentials)
        sandbox.handle.state.revoked_api_tokens.add(sandbox.handle.api_token)
        with pytest.raises(InvalidApiKey) as refused:
            await api_client.organizations.get(1)
        failures.append(str(refused.value))
        failures.append(repr(credentials))
    for token in (credentials, refreshed):
        secrets += [token.access_token.get_secret_value(), token.refresh_token.get_secret_value()]

    logged = repr(logs) + repr(failures)
    assert len(logs) >= 6 and any(entry["event"] == "pipedrive_oauth_refreshed" for entry in logs)
    for secret in secrets:
        assert secret not in logged
    assert "api_token=" not in logged
