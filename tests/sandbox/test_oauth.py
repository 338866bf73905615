"""OAuth 2.0 as Pipedrive runs it: consent, code exchange, rotating refresh tokens, expiry and revocation."""

from __future__ import annotations

from tests.sandbox.conftest import (
    SandboxClient,
    authorize,
    basic_auth,
    oauth_tokens,
    token_request,
)


async def _me(client: SandboxClient, access_token: str) -> int:
    client.token = None
    reply = await client.call("GET", "/v1/users/me", headers={"Authorization": f"Bearer {access_token}"})
    return reply.status


async def test_approving_redirects_with_a_code_and_the_state(sandbox: SandboxClient) -> None:
    redirect = await authorize(sandbox, approve=True, state="s-123")

    assert redirect["state"] == "s-123"
    assert len(redirect["code"]) > 20


async def test_denying_redirects_with_an_error_and_the_state(sandbox: SandboxClient) -> None:
    redirect = await authorize(sandbox, approve=False, state="s-456")

    assert redirect == {"error": "user_denied", "state": "s-456"}


async def test_code_exchange_returns_tokens_scope_and_the_sandbox_api_domain(sandbox: SandboxClient) -> None:
    tokens = await oauth_tokens(sandbox)

    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert "contacts:full" in tokens["scope"].split(",")
    assert tokens["api_domain"] == sandbox.handle.base_url
    assert await _me(sandbox, tokens["access_token"]) == 200


async def test_a_code_works_only_once(sandbox: SandboxClient) -> None:
    code = (await authorize(sandbox))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": "https://app.example/callback"}
    await token_request(sandbox, form)

    replay = await token_request(sandbox, form)

    assert replay.status == 400 and replay.body["error"] == "invalid_grant"


async def test_wrong_client_credentials_are_rejected(sandbox: SandboxClient) -> None:
    code = (await authorize(sandbox))["code"]
    form = {"grant_type": "authorization_code", "code": code}

    reply = await token_request(sandbox, form, auth=basic_auth(secret="wrong"))

    assert reply.status == 401 and reply.body["error"] == "invalid_client"


async def test_refresh_rotates_the_refresh_token(sandbox: SandboxClient) -> None:
    tokens = await oauth_tokens(sandbox)

    refreshed = await token_request(
        sandbox, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )

    assert refreshed.status == 200
    assert refreshed.body["refresh_token"] != tokens["refresh_token"]
    assert await _me(sandbox, refreshed.body["access_token"]) == 200


async def test_a_replayed_refresh_token_is_rejected(sandbox: SandboxClient) -> None:
    tokens = await oauth_tokens(sandbox)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    await token_request(sandbox, form)

    replay = await token_request(sandbox, form)

    assert replay.status == 400 and replay.body["error"] == "invalid_grant"


async def test_access_tokens_expire_with_the_documented_401(sandbox: SandboxClient) -> None:
    tokens = await oauth_tokens(sandbox)
    sandbox.handle.state.clock.advance(3600)
    sandbox.token = None

    reply = await sandbox.call(
        "GET", "/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    assert reply.status == 401
    assert reply.body["error"] == "unauthorized access" and reply.body["errorCode"] == 401


async def test_refresh_tokens_expire_after_60_days_unused(sandbox: SandboxClient) -> None:
    tokens = await oauth_tokens(sandbox)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    sandbox.handle.state.clock.advance(60 * 86400 + 1)

    reply = await token_request(sandbox, form)

    assert reply.status == 400 and reply.body["error"] == "invalid_grant"


async def test_a_refresh_token_used_within_60_days_keeps_working(sandbox: SandboxClient) -> None:
    tokens = await oauth_tokens(sandbox)
    sandbox.handle.state.clock.advance(59 * 86400)

    reply = await token_request(
        sandbox, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )

    assert reply.status == 200


async def test_revoked_tokens_stop_working(sandbox: SandboxClient) -> None:
    tokens = await oauth_tokens(sandbox)
    url = f"{sandbox.handle.base_url}/oauth/revoke"
    for token in (tokens["access_token"], tokens["refresh_token"]):
        async with sandbox.session.post(url, data={"token": token}, headers=basic_auth()) as response:
            assert response.status == 200

    refresh = await token_request(
        sandbox, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )

    assert await _me(sandbox, tokens["access_token"]) == 401
    assert refresh.status == 400


async def test_the_api_token_is_accepted_as_header_and_as_query_parameter(sandbox: SandboxClient) -> None:
    token = sandbox.token
    sandbox.token = None

    by_query = await sandbox.call("GET", "/v1/users/me", params={"api_token": token}, check_request=False)
    by_header = await sandbox.call("GET", "/v1/users/me", headers={"x-api-token": str(token)})

    assert by_query.status == 200 and by_header.status == 200
