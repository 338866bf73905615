"""Driving the sandbox's consent page as an admin would, to obtain authorization codes in tests."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp

from pipedrive_client import OAuthApp


async def approve(session: aiohttp.ClientSession, app: OAuthApp, state: str) -> dict[str, str]:
    """Approve the app on the sandbox's consent page; returns the callback's query (`code`, `state`)."""
    form = {
        "client_id": app.client_id,
        "redirect_uri": app.redirect_uri,
        "state": state,
        "decision": "approve",
    }
    url = f"{app.oauth_base_url}/oauth/authorize"
    async with session.post(url, data=form, allow_redirects=False) as response:
        assert response.status == 302, await response.text()
        location = response.headers["Location"]
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
