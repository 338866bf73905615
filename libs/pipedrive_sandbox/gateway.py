"""The gateway every Pipedrive API call passes: faults, auth, rate limits, charging and the ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from pipedrive_sandbox.app_keys import CREDENTIAL, state_of
from pipedrive_sandbox.auth import Credential, authenticate
from pipedrive_sandbox.errors import SandboxError
from pipedrive_sandbox.ledger import LedgerEntry
from pipedrive_sandbox.operations import OPERATIONS_BY_KEY, Operation
from pipedrive_sandbox.page_edits import edit_between_pages, page_start
from pipedrive_sandbox.ratelimit import Decision, Verdict
from pipedrive_sandbox.responses import (
    BLOCKED_BODY,
    BURST_LIMIT_BODY,
    DAILY_LIMIT_BODY,
    UNAUTHORIZED_BODY,
    json_response,
)
from pipedrive_sandbox.responses import error as error_response
from pipedrive_sandbox.state import SandboxState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Run one API call through faults, auth and limits; record it in the ledger with what it cost."""
    operation = OPERATIONS_BY_KEY.get(request.match_info.route.name or "")
    if operation is None:
        return await handler(request)
    state = state_of(request)
    if state.faults.latency_seconds > 0:
        await asyncio.sleep(state.faults.latency_seconds)
    credential = authenticate(request, state)
    charged = 0
    if credential is None:
        response: web.StreamResponse = json_response(UNAUTHORIZED_BODY, status=401)
    else:
        response, charged = await _admitted(request, handler, state, operation, credential)
    _record(state, request, operation, credential, charged, response)
    return response


async def _admitted(
    request: web.Request, handler: Handler, state: SandboxState, operation: Operation, credential: Credential
) -> tuple[web.StreamResponse, int]:
    if state.faults.take_storm(state.clock.now()):
        storm = Decision(Verdict.BURST_LIMITED, 0, 0, 2)
        return _with_limit_headers(json_response(BURST_LIMIT_BODY, status=429), storm), 0
    if state.faults.take_server_error():
        return error_response(state.faults.error_status, "Service temporarily unavailable"), 0
    decision = state.limiter.admit(
        credential.token_id, credential.is_oauth, operation.is_search, operation.tokens
    )
    if decision.verdict is Verdict.BLOCKED:
        return json_response(BLOCKED_BODY, status=403), 0
    if decision.verdict is Verdict.BURST_LIMITED:
        return _with_limit_headers(json_response(BURST_LIMIT_BODY, status=429), decision), 0
    if decision.verdict is Verdict.DAILY_LIMITED:
        daily = json_response(DAILY_LIMIT_BODY, status=429)
        daily.headers["retry-after"] = str(decision.retry_after)
        return _with_limit_headers(daily, decision), 0
    request[CREDENTIAL] = credential
    if state.between_pages:
        start = page_start(dict(request.query))
        edit_between_pages(state.between_pages, request.path, start, state.entities, state.admin_user.id)
    try:
        response = await handler(request)
    except SandboxError as failure:
        response = error_response(failure.status, failure.message)
    return _with_limit_headers(response, decision), operation.tokens


def _with_limit_headers(response: web.StreamResponse, decision: Decision) -> web.StreamResponse:
    response.headers["x-ratelimit-limit"] = str(decision.limit)
    response.headers["x-ratelimit-remaining"] = str(decision.remaining)
    response.headers["x-ratelimit-reset"] = str(decision.reset_seconds)
    return response


def _record(
    state: SandboxState,
    request: web.Request,
    operation: Operation,
    credential: Credential | None,
    tokens: int,
    response: web.StreamResponse,
) -> None:
    status = response.status
    entry = LedgerEntry(
        time=state.clock.now(),
        method=request.method,
        path=request.path,
        operation_id=operation.operation_id,
        api=operation.api.value,
        tokens=tokens,
        company_id=credential.company_id if credential else None,
        token=credential.token_id if credential else None,
        auth=credential.kind if credential else None,
        status=status,
        wait_seconds=_wait_told(response) if status == 429 else None,
    )
    state.ledger.record(entry)


def _wait_told(response: web.StreamResponse) -> float | None:
    told = response.headers.get("retry-after") or response.headers.get("x-ratelimit-reset")
    return float(told) if told is not None else None
