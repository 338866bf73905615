"""`PipedriveHttp`: one tenant's calls to Pipedrive through the budget, with retries and typed errors.

Every call: authorize (refreshing OAuth tokens when due), spend its token cost from the shared budget
(waiting out burst windows), send over the caller's `aiohttp.ClientSession`, honour `retry-after` and
`x-ratelimit-*`, retry 5xx and network failures with backoff and jitter a bounded number of times, and
turn everything else into the error types of `pipedrive_client.errors`. Logs name the operation, never
the URL or a token.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import structlog
from multidict import CIMultiDictProxy
from pydantic import SecretStr

from pipedrive_client.authorization import Authorization, CredentialAuthorizer
from pipedrive_client.budget import Budget, closed_window_from
from pipedrive_client.clock import Clock, SystemClock
from pipedrive_client.endpoints import Endpoint
from pipedrive_client.errors import (
    BudgetExhausted,
    InvalidApiKey,
    NotFound,
    PipedriveUnavailable,
    RateLimitExceeded,
    RequestRejected,
    UnexpectedResponse,
)
from pipedrive_client.metrics import record_call, record_tokens
from pipedrive_client.token_costs import TokenCosts, load_token_costs
from schemas.nul_characters import may_hold_nul, without_nul_characters

_log = structlog.get_logger(__name__)
_NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError)
QueryValue = str | int | bool


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: `max_attempts` tries for 5xx/network, as many 429 waits; full-jitter backoff."""

    max_attempts: int = 4
    base_delay_seconds: float = 0.2
    max_delay_seconds: float = 5.0
    timeout_seconds: float = 30.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        return self.rng.uniform(0, min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class ApiAnswer:
    """A successful answer: `data` and `additional_data` of Pipedrive's envelope."""

    data: Any
    additional_data: dict[str, Any]


CHARGED_AHEAD_FOR_S = 0.1
"""How long a call charged ahead (`PipedriveHttp.charge_ahead`) may wait to be sent with that charge: its
charge stamped the burst window when it was made, and the window's margin (`BudgetPolicy`, 0.25 s) is
what keeps a request stamped before it travels inside Pipedrive's count. Older, it is given back and the
call charged anew (after a 429's wait, for one)."""


@dataclass(frozen=True)
class ChargedCall:
    """A call authorized and charged before it is sent (`PipedriveHttp.charge_ahead`)."""

    auth: Authorization
    cost: int
    charged_at: float


class ChargingAhead:
    """Calls of one endpoint sent one after the other (a listing's pages, each asked with the cursor of
    the one before it), the next one authorized and charged while the one before it travels once its
    reader says it will ask it (`start_next`, `read_ahead`'s `ready_for_next`): a page's chain is the
    longer of its answer and the next one's charge and credentials read (each a round trip to
    PostgreSQL), not their sum.

    A charge made ahead that no call takes is given back on leaving (`async with`): the one ahead of the
    last page, for one; it held a place of the burst window (a refund gives back the tokens, not the
    place). A charge ahead that failed is dropped: the call it was for charges itself and raises what it
    must."""

    def __init__(self, http: PipedriveHttp, endpoint: Endpoint) -> None:
        self._http = http
        self._endpoint = endpoint
        self._next: asyncio.Future[ChargedCall] | None = None
        self._dropped: list[asyncio.Future[ChargedCall]] = []
        self._left = False

    def start_next(self) -> None:
        """Authorize and charge the next call now (nothing when one is already charged ahead, or once
        the series is left)."""
        if self._next is None and not self._left:
            self._next = asyncio.ensure_future(self._http.charge_ahead(self._endpoint))

    async def call(
        self,
        path_params: Mapping[str, int | str] | None = None,
        query: Mapping[str, QueryValue | None] | None = None,
    ) -> ApiAnswer:
        """`PipedriveHttp.call` of the endpoint, with the charge made ahead for it if there is one."""
        charged = await self._take()
        return await self._http.call(self._endpoint, path_params, query, charged=charged)

    async def __aenter__(self) -> ChargingAhead:
        return self

    async def __aexit__(self, *_: object) -> None:
        self._left = True
        for ahead in (self._next, *self._dropped):
            if ahead is not None:
                charged = await _charged(ahead)
                if charged is not None:
                    await self._http.give_back(charged)
        self._next, self._dropped = None, []

    async def _take(self) -> ChargedCall | None:
        """The charge made ahead, once made (None when there is none or it failed); the next one may be
        started meanwhile. A wait cancelled leaves it to be given back on leaving."""
        ahead, self._next = self._next, None
        if ahead is None:
            return None
        try:
            return await _charged(ahead)
        except asyncio.CancelledError:
            self._dropped.append(ahead)
            raise


async def _charged(ahead: asyncio.Future[ChargedCall]) -> ChargedCall | None:
    """What a charge made ahead gave (None when it failed), not cancelled with the one waiting for it."""
    try:
        return await asyncio.shield(ahead)
    except asyncio.CancelledError:
        if ahead.cancelled():
            return None
        raise
    except Exception:
        return None


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


class PipedriveHttp:
    """Calls Pipedrive for one tenant."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        tenant_id: str,
        authorizer: CredentialAuthorizer,
        budget: Budget,
        *,
        costs: TokenCosts | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._session = session
        self.tenant_id = tenant_id
        self._authorizer = authorizer
        self._budget = budget
        self._costs = costs or load_token_costs()
        self._retry = retry or RetryPolicy()
        self._clock = clock or SystemClock()
        self.tokens_spent = 0
        """Tokens this client's calls were charged (refused calls are refunded and not counted)."""
        self._api_token_last = False
        """The last call carried an API token (`_authorize_while_charging`)."""

    async def call(
        self,
        endpoint: Endpoint,
        path_params: Mapping[str, int | str] | None = None,
        query: Mapping[str, QueryValue | None] | None = None,
        body: Mapping[str, Any] | None = None,
        *,
        charged: ChargedCall | None = None,
    ) -> ApiAnswer:
        """Send one operation and return its envelope; raises the client's error types.

        `charged` (from `charge_ahead`, for this endpoint) is used by the first attempt instead of an
        authorization and a charge of its own when it is fresh (`CHARGED_AHEAD_FOR_S`), given back and
        charged anew otherwise: either way the call owns it from here on."""
        cost = self._costs.cost_of(endpoint)
        path = endpoint.url_path(path_params)
        params = _query_params(query)
        rejected: SecretStr | None = None
        failures = limited = 0
        while True:
            if charged is not None and self._sendable(charged, cost):
                auth = charged.auth
            else:
                if charged is not None:
                    await self.give_back(charged)
                auth = await self._authorize_and_charge(cost, endpoint.is_search, rejected)
            charged = None
            try:
                reply = await self._send(endpoint, auth, path, params, body, cost)
            except _NETWORK_ERRORS as failure:
                record_call(self.tenant_id, endpoint.name, None, 0.0)
                failures += 1
                if not endpoint.retry_safe or failures >= self._retry.max_attempts:
                    raise PipedriveUnavailable() from failure
                await self._clock.sleep(self._retry.delay(failures))
                continue
            await self._settle(reply, cost, endpoint.name)
            if reply.status == 401:
                if rejected is not None:
                    raise InvalidApiKey()
                # The authorizer refreshes an OAuth token, or marks a refused API token and raises.
                rejected = auth.token
                continue
            if reply.status == 429:
                limited += 1
                if limited >= self._retry.max_attempts:
                    raise RateLimitExceeded()
                continue  # `spend` waits until the window the answer closed has passed
            if reply.status >= 500:
                failures += 1
                if not endpoint.retry_safe or failures >= self._retry.max_attempts:
                    raise PipedriveUnavailable()
                await self._clock.sleep(self._retry.delay(failures))
                continue
            return _answer(reply)

    async def charge_ahead(self, endpoint: Endpoint) -> ChargedCall:
        """Authorize and charge a call of `endpoint` before it is sent: the next call of a series is made
        ready while the one before it travels (`ChargingAhead`). Hand it to `call` or `give_back`."""
        cost = self._costs.cost_of(endpoint)
        auth = await self._authorize_and_charge(cost, endpoint.is_search, None)
        return ChargedCall(auth, cost, self._clock.now())

    async def give_back(self, charged: ChargedCall) -> None:
        """Refund a charge made ahead that no call was sent with."""
        await self._budget.refund(self.tenant_id, charged.cost)

    def _sendable(self, charged: ChargedCall, cost: int) -> bool:
        age = self._clock.now() - charged.charged_at
        return charged.cost == cost and 0 <= age <= CHARGED_AHEAD_FOR_S

    async def _authorize_and_charge(
        self, cost: int, is_search: bool, rejected: SecretStr | None
    ) -> Authorization:
        """The call's credentials, once it is charged `cost` (waiting out burst windows)."""
        if rejected is None and self._api_token_last:
            auth = await self._authorize_while_charging(cost, is_search)
        else:
            auth = await self._authorizer.authorize(self.tenant_id, rejected)
            await self._budget.spend(self.tenant_id, cost, is_oauth=auth.is_oauth, is_search=is_search)
        self._api_token_last = not auth.is_oauth
        return auth

    async def _authorize_while_charging(self, cost: int, is_search: bool) -> Authorization:
        """The call's credentials read while it is charged, when the tenant's last call carried an API
        token: the two round trips overlap instead of following each other (a list read's next page waits
        for both). The call is charged as an API token's, whose burst limit is the stricter one: exact
        for an API token, on the safe side if the credentials became OAuth meanwhile. A read that fails
        (credentials refused, removed) gives the charge back before its error is raised."""
        charge = asyncio.ensure_future(
            self._budget.spend(self.tenant_id, cost, is_oauth=False, is_search=is_search)
        )
        try:
            auth = await self._authorizer.authorize(self.tenant_id)
        except BaseException:
            try:
                await charge
            except Exception:
                pass  # nothing was charged; the read's error is the one raised
            else:
                await self._budget.refund(self.tenant_id, cost)
            raise
        await charge
        return auth

    async def _send(
        self,
        endpoint: Endpoint,
        auth: Authorization,
        path: str,
        params: dict[str, str],
        body: Mapping[str, Any] | None,
        cost: int,
    ) -> _Reply:
        headers = {**auth.headers(), "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(body)
        started = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=self._retry.timeout_seconds)
        async with self._session.request(
            endpoint.method,
            auth.api_domain + path,
            params=params,
            data=data,
            headers=headers,
            timeout=timeout,
        ) as response:
            reply = _Reply(response.status, response.headers, await response.read())
        record_call(self.tenant_id, endpoint.name, reply.status, time.monotonic() - started)
        _log.info(
            "pipedrive_call",
            tenant=self.tenant_id,
            operation=endpoint.name,
            status=reply.status,
            tokens=cost,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )
        return reply

    async def _settle(self, reply: _Reply, cost: int, endpoint_name: str) -> None:
        """Record what the answer says about the budget: refunds, closed windows, an exhausted day."""
        if reply.status in (401, 403, 429):
            await self._budget.refund(self.tenant_id, cost)
        else:
            self.tokens_spent += cost
            record_tokens(self.tenant_id, endpoint_name, cost)
        daily = reply.status == 429 and "daily" in _error_text(reply.body).lower()
        window = closed_window_from(reply.status, reply.headers, self._clock.now(), daily)
        if window is not None:
            await self._budget.close(self.tenant_id, window)
            if window.for_day:
                raise BudgetExhausted(window.until)


def _query_params(query: Mapping[str, QueryValue | None] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in (query or {}).items():
        if value is None:
            continue
        params[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return params


def _answer(reply: _Reply) -> ApiAnswer:
    if reply.status == 404:
        raise NotFound()
    if reply.status == 403 and "too many requests" in _error_text(reply.body).lower():
        raise RateLimitExceeded()
    if reply.status >= 400:
        reason = _error_text(reply.body)[:200]
        raise RequestRejected(f"Pipedrive rejected the request: {reason}" if reason else None)
    try:
        envelope = _json_of(reply.body)
    except orjson.JSONDecodeError as failure:
        raise UnexpectedResponse("Unexpected response from Pipedrive: the body is not JSON") from failure
    # Some v1 answers (a deleted webhook) carry only `success`; answers that must carry data are
    # checked by the resource that reads them.
    if not isinstance(envelope, dict) or envelope.get("success") is False:
        raise UnexpectedResponse("Unexpected response from Pipedrive: not a successful envelope")
    if "data" not in envelope and envelope.get("success") is not True:
        raise UnexpectedResponse("Unexpected response from Pipedrive: no data in the answer")
    extra = envelope.get("additional_data")
    return ApiAnswer(envelope.get("data"), extra if isinstance(extra, dict) else {})


def _json_of(body: bytes) -> Any:
    """An answer's JSON, its strings without NUL characters (`schemas.nul_characters`: nothing read from
    Pipedrive holds one, so every record, field and message can be kept in PostgreSQL)."""
    document = orjson.loads(body)
    return without_nul_characters(document) if may_hold_nul(body) else document


def _error_text(body: bytes) -> str:
    """Pipedrive's `error` message of a failed answer ('' when there is none)."""
    try:
        envelope = _json_of(body)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(envelope, dict):
        return ""
    error = envelope.get("error")
    if isinstance(error, str):
        return error
    errors = envelope.get("errors")
    if isinstance(errors, dict) and isinstance(errors.get("message"), str):
        return str(errors["message"])
    return ""
