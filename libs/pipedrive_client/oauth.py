"""OAuth 2.0 authorization-code flow: the authorize URL, `state` bound to the admin's session, the code
exchange, and refreshes that are single-flight per tenant across every replica (row lock).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import aiohttp
import asyncpg
import orjson
import structlog
from pydantic import BaseModel, SecretStr, ValidationError

from pipedrive_client.api_domains import ApiDomainPolicy
from pipedrive_client.clock import Clock, SystemClock
from pipedrive_client.credentials import CredentialStore, OAuthCredentials, StoredCredentials
from pipedrive_client.database import DEFAULT_SCHEMA, checked_schema
from pipedrive_client.errors import InvalidApiKey, OAuthFailed, PipedriveUnavailable

PIPEDRIVE_OAUTH = "https://oauth.pipedrive.com"
STATE_BYTES = 32
REFRESH_REFUSED = "Pipedrive refused the refresh token (the app was uninstalled or its access revoked)"
_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class OAuthApp:
    """The marketplace app: its client credentials, redirect URI and the OAuth server's base URL."""

    client_id: str
    client_secret: SecretStr
    redirect_uri: str
    oauth_base_url: str = PIPEDRIVE_OAUTH

    @property
    def token_url(self) -> str:
        """Where codes and refresh tokens are traded for tokens."""
        return f"{self.oauth_base_url.rstrip('/')}/oauth/token"


def new_state() -> str:
    """An unguessable `state` value (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(STATE_BYTES)


def authorize_url(app: OAuthApp, state: str) -> str:
    """The URL the admin's browser is sent to so they approve the app."""
    query = urlencode({"client_id": app.client_id, "redirect_uri": app.redirect_uri, "state": state})
    return f"{app.oauth_base_url.rstrip('/')}/oauth/authorize?{query}"


@dataclass(frozen=True)
class IssuedState:
    """What a `state` was issued for: the tenant, the admin session (API key id) that started the flow,
    the person acting for it (when the console said), and where the browser goes back at the end."""

    tenant_id: str
    session_id: str
    actor: str | None = None
    return_to: str | None = None


class OAuthStateStore:
    """`state` values in Postgres: issued for one tenant and admin session, used once, expiring."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str = DEFAULT_SCHEMA,
        ttl_seconds: float = 600,
        clock: Clock | None = None,
    ) -> None:
        self._pool = pool
        self._table = f"{checked_schema(schema)}.oauth_states"
        self._ttl = ttl_seconds
        self._clock = clock or SystemClock()

    @property
    def ttl_seconds(self) -> float:
        """How long a state stays usable."""
        return self._ttl

    async def issue(
        self, tenant_id: str, session_id: str, *, actor: str | None = None, return_to: str | None = None
    ) -> str:
        """A fresh state bound to the admin's session; expired states are swept on the way."""
        state = new_state()
        now = self._clock.now()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(f"DELETE FROM {self._table} WHERE expires_at < $1", _at(now))
            await conn.execute(
                f"INSERT INTO {self._table} (state, tenant_id, session_id, expires_at, actor, return_to)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                state,
                tenant_id,
                session_id,
                _at(now + self._ttl),
                actor,
                return_to,
            )
        return state

    async def peek(self, state: str) -> IssuedState | None:
        """What a usable state was issued for, without using it up (None: unknown, used or expired)."""
        row = await self._pool.fetchrow(
            f"SELECT tenant_id, session_id, actor, return_to, expires_at FROM {self._table} WHERE state = $1",
            state,
        )
        if row is None or row["expires_at"].timestamp() < self._clock.now():
            return None
        return IssuedState(row["tenant_id"], row["session_id"], row["actor"], row["return_to"])

    async def consume(self, state: str, session_id: str | None = None) -> IssuedState:
        """Use the state up and say what it was issued for. `session_id`, when the caller presented one,
        must be the one it was issued to: that is checked first, so a wrong caller never burns the
        rightful admin's state. `OAuthFailed` when it is unknown, used, expired or not the caller's.
        Without a session (a browser arriving from Pipedrive) the state itself is the proof."""
        issued = await self.peek(state)
        if issued is None:
            raise OAuthFailed()
        if session_id is not None and not hmac.compare_digest(
            issued.session_id.encode(), session_id.encode()
        ):
            raise OAuthFailed()
        used = await self._pool.fetchval(
            f"DELETE FROM {self._table} WHERE state = $1 AND session_id = $2 RETURNING true",
            state,
            issued.session_id,
        )
        if not used:  # another request used it between the two statements
            raise OAuthFailed()
        return issued


class TokenAnswer(BaseModel):
    """The token endpoint's answer."""

    access_token: str
    refresh_token: str
    expires_in: int
    scope: str = ""
    api_domain: str | None = None


class OAuthTokenClient:
    """Calls `/oauth/token` (form-encoded, HTTP Basic client credentials)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        app: OAuthApp,
        policy: ApiDomainPolicy,
        clock: Clock | None = None,
    ) -> None:
        self._session = session
        self._app = app
        self._policy = policy
        self._clock = clock or SystemClock()

    async def exchange_code(self, code: str) -> OAuthCredentials:
        """Trade an authorization code for tokens; `OAuthFailed` when refused."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self._app.redirect_uri}
        answer = await self._post(form, refused=OAuthFailed)
        return self._credentials(answer, fallback_domain=None)

    async def refresh(self, current: OAuthCredentials) -> OAuthCredentials:
        """New tokens for a refresh token; `InvalidApiKey` when it was revoked or expired."""
        form = {"grant_type": "refresh_token", "refresh_token": current.refresh_token.get_secret_value()}
        answer = await self._post(form, refused=InvalidApiKey)
        return self._credentials(answer, fallback_domain=current.api_domain)

    async def _post(self, form: dict[str, str], refused: type[OAuthFailed | InvalidApiKey]) -> TokenAnswer:
        pair = f"{self._app.client_id}:{self._app.client_secret.get_secret_value()}"
        headers = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        try:
            async with self._session.post(self._app.token_url, data=form, headers=headers) as response:
                status, body = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as failure:
            raise PipedriveUnavailable() from failure
        _log.info("pipedrive_oauth_token", grant_type=form["grant_type"], status=status)
        if status >= 500:
            raise PipedriveUnavailable()
        if status != 200:
            raise refused()
        try:
            return TokenAnswer.model_validate(orjson.loads(body))
        except (orjson.JSONDecodeError, ValidationError) as failure:
            raise OAuthFailed("Pipedrive authorization failed: unexpected token answer") from failure

    def _credentials(self, answer: TokenAnswer, fallback_domain: str | None) -> OAuthCredentials:
        domain = answer.api_domain or fallback_domain
        if domain is None:
            raise OAuthFailed("Pipedrive authorization failed: no api_domain in the token answer")
        return OAuthCredentials(
            access_token=SecretStr(answer.access_token),
            refresh_token=SecretStr(answer.refresh_token),
            expires_at=self._clock.now() + answer.expires_in,
            api_domain=self._policy.accept(domain),
            scope=answer.scope,
        )


class OAuthRefresher:
    """Keeps a tenant's access token fresh: before expiry (by a margin) and after a 401.

    Single-flight across replicas: the refresh happens under `SELECT ... FOR UPDATE` of the tenant's
    credentials row; whoever gets the lock second re-reads the row and uses the token the first one wrote.
    The rotated refresh token is written in that same transaction.
    """

    def __init__(
        self,
        store: CredentialStore,
        tokens: OAuthTokenClient,
        clock: Clock | None = None,
        margin_seconds: float = 300,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._clock = clock or SystemClock()
        self._margin = margin_seconds

    async def fresh(
        self, tenant_id: str, rejected: SecretStr | None = None, stored: StoredCredentials | None = None
    ) -> OAuthCredentials:
        """Usable OAuth credentials for the tenant; `rejected` is an access token Pipedrive just refused,
        `stored` the row the caller already read. A refresh Pipedrive refuses (the grant was revoked or
        the refresh token expired) marks the credentials refused: the connection needs reconnecting."""
        current = (stored or await self._store.load(tenant_id)).credentials
        if not isinstance(current, OAuthCredentials):
            raise InvalidApiKey()
        if not self._needs_refresh(current, rejected):
            return current
        refused: InvalidApiKey | None = None
        async with self._store.pool.acquire() as conn, conn.transaction():
            row = await self._store.load(tenant_id, conn, for_update=True)
            locked = row.credentials
            if not isinstance(locked, OAuthCredentials) or row.refused_reason is not None:
                raise InvalidApiKey()
            if not self._needs_refresh(locked, rejected):
                return locked
            try:
                renewed = await self._tokens.refresh(locked)
            except InvalidApiKey as failure:
                refused = failure
                await self._store.mark_refused(tenant_id, row.version, REFRESH_REFUSED, conn)
            else:
                await self._store.save(tenant_id, renewed, conn)
        if refused is not None:
            _log.warning("pipedrive_oauth_refresh_refused", tenant=tenant_id)
            raise refused
        _log.info("pipedrive_oauth_refreshed", tenant=tenant_id)
        return renewed

    def _needs_refresh(self, credentials: OAuthCredentials, rejected: SecretStr | None) -> bool:
        if (
            rejected is not None
            and rejected.get_secret_value() == credentials.access_token.get_secret_value()
        ):
            return True
        return credentials.expires_at - self._margin <= self._clock.now()


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
