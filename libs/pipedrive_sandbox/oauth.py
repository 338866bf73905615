"""The OAuth 2.0 authorization-code flow as Pipedrive runs it: codes, rotating refresh tokens, revocation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from pipedrive_sandbox.clock import SandboxClock
from pipedrive_sandbox.config import SandboxConfig

CODE_TTL_SECONDS = 300
DEFAULT_SCOPE = "base,deals:full,contacts:full,search:read,users:read,recents:read,admin"


class OAuthError(Exception):
    """An RFC 6749 error: `error` code, description and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def as_body(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"success": False, "error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Uninstalled:
    """An uninstalled app: its callback URL and the body of the call Pipedrive sends there."""

    callback_url: str
    body: dict[str, Any]


@dataclass
class _Grant:
    client_id: str
    user_id: int
    scope: str
    redirect_uri: str
    expires_at: float


@dataclass
class AccessToken:
    """An issued access token."""

    client_id: str
    user_id: int
    scope: str
    expires_at: float


@dataclass
class _RefreshToken:
    client_id: str
    user_id: int
    scope: str
    last_used: float
    active: bool = True


class OAuthServer:
    """Authorization codes, access tokens and refresh tokens of one sandbox company."""

    def __init__(self, config: SandboxConfig, clock: SandboxClock, default_user_id: int) -> None:
        self.config = config
        self.clock = clock
        self.default_user_id = default_user_id
        self._codes: dict[str, _Grant] = {}
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        # The callback URL of each installed app (Pipedrive's "Callback URL" of the app): where the
        # uninstall call goes.
        self.installed: dict[str, str] = {}

    def decide(self, client_id: str, redirect_uri: str, state: str, approve: bool, scope: str = "") -> str:
        """The URL the authorize page redirects to after the user approves or denies."""
        self._check_redirect(client_id, redirect_uri)
        separator = "&" if "?" in redirect_uri else "?"
        if not approve:
            return redirect_uri + separator + urlencode({"error": "user_denied", "state": state})
        code = secrets.token_urlsafe(24)
        self.installed[client_id] = redirect_uri.split("?", 1)[0]
        expires = self.clock.now() + CODE_TTL_SECONDS
        self._codes[code] = _Grant(
            client_id, self.default_user_id, scope or DEFAULT_SCOPE, redirect_uri, expires
        )
        return redirect_uri + separator + urlencode({"code": code, "state": state})

    def exchange_code(
        self, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> dict[str, Any]:
        """Trade an authorization code (single use) for tokens."""
        self._check_client(client_id, client_secret)
        grant = self._codes.pop(code, None)
        if grant is None or grant.client_id != client_id or grant.expires_at < self.clock.now():
            raise OAuthError("invalid_grant", "Invalid authorization code")
        if redirect_uri and redirect_uri != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request")
        return self._issue(client_id, grant.user_id, grant.scope)

    def refresh(self, client_id: str, client_secret: str, refresh_token: str) -> dict[str, Any]:
        """Trade a refresh token for new tokens; the old refresh token stops working (rotation)."""
        self._check_client(client_id, client_secret)
        stored = self._refresh.get(refresh_token)
        now = self.clock.now()
        if stored is None or stored.client_id != client_id or not stored.active:
            raise OAuthError("invalid_grant", "Invalid refresh token")
        if now - stored.last_used > self.config.refresh_token_idle_ttl_seconds:
            stored.active = False
            raise OAuthError("invalid_grant", "Refresh token expired")
        stored.active = False
        return self._issue(client_id, stored.user_id, stored.scope)

    def revoke(self, client_id: str, client_secret: str, token: str) -> None:
        """Revoke an access or refresh token (unknown tokens are ignored, as RFC 7009 asks)."""
        self._check_client(client_id, client_secret)
        self.revoke_token(token)

    def revoke_token(self, token: str) -> bool:
        """Revoke any access or refresh token without client checks (admin faults); True if it existed."""
        found = self._access.pop(token, None) is not None
        refresh = self._refresh.get(token)
        if refresh is not None:
            refresh.active = False
            found = True
        return found

    def uninstall(self, client_id: str) -> Uninstalled:
        """The admin uninstalls the app: every token of the app stops working at once, and Pipedrive
        calls the app's callback URL (`DELETE`, JSON, the app's Basic auth) with what was uninstalled."""
        callback = self.installed.pop(client_id, None)
        if callback is None:
            raise OAuthError("invalid_request", "The app is not installed", status=404)
        for token in [t for t, a in self._access.items() if a.client_id == client_id]:
            del self._access[token]
        for refresh in self._refresh.values():
            if refresh.client_id == client_id:
                refresh.active = False
        body = {
            "client_id": client_id,
            "company_id": self.config.company_id,
            "user_id": self.default_user_id,
            "timestamp": datetime.fromtimestamp(self.clock.now(), UTC).isoformat().replace("+00:00", "Z"),
        }
        return Uninstalled(callback, body)

    def authenticate(self, access_token: str) -> AccessToken | None:
        """The access token if it is valid now."""
        found = self._access.get(access_token)
        if found is None or found.expires_at <= self.clock.now():
            return None
        return found

    def _issue(self, client_id: str, user_id: int, scope: str) -> dict[str, Any]:
        now = self.clock.now()
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._access[access] = AccessToken(
            client_id, user_id, scope, now + self.config.access_token_ttl_seconds
        )
        self._refresh[refresh] = _RefreshToken(client_id, user_id, scope, now)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "scope": scope,
            "expires_in": self.config.access_token_ttl_seconds,
        }

    def _check_client(self, client_id: str, client_secret: str) -> None:
        if client_id != self.config.oauth_client_id or client_secret != self.config.oauth_client_secret:
            raise OAuthError("invalid_client", "Invalid client credentials", status=401)

    def _check_redirect(self, client_id: str, redirect_uri: str) -> None:
        if client_id != self.config.oauth_client_id:
            raise OAuthError("invalid_client", "Unknown client_id", status=400)
        allowed = self.config.oauth_redirect_uris
        if not redirect_uri or (allowed and redirect_uri not in allowed):
            raise OAuthError("invalid_request", "redirect_uri is not registered for this client")
