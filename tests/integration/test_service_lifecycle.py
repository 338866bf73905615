"""Every service starts as `python -m <service>`, becomes ready, serves metrics and stops on SIGTERM; its
API answers a path or method no route serves with the JSON error shape (after the 401 when the key is
missing), and bad input (NUL characters, tampered cursors, oversized bodies) with a JSON 400 naming the
field or a JSON 413, never a 500. Every line a service logs is JSON: its own, one `http_request` line per
answer (never the query string), and aiohttp's server errors with their tracebacks."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from schemas.topics import topics_consumed_by
from tenant_auth.registry import TenantRegistry
from tests.integration.service_metrics import check_metrics_and_openapi
from tests.support.kafka_offsets import position_group_at_end
from tests.support.schemas import drop_schemas
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration

SERVICES = ["connector", "mapper", "pusher", "auditlog"]
UNROUTED = "/no/such/path/here"
# A route of each service's API called with a method it does not allow: (method, path, its Allow).
WRONG_METHOD = {
    "connector": ("DELETE", "/v1/settings", {"GET", "HEAD", "PUT", "PATCH"}),
    "mapper": ("DELETE", "/v1/accounts", {"GET", "HEAD"}),
    "pusher": ("GET", "/v1/push", {"POST"}),
    "auditlog": ("DELETE", "/v1/runs", {"GET", "HEAD"}),
}

OVERSIZED = b'{"padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'


def _cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode()


# Bad input per service: (method, path, JSON body or raw bytes, status, the start of the first problem).
BAD_INPUT: dict[str, list[tuple[str, str, Any, int, str]]] = {
    "connector": [
        ("GET", "/v1/runs/r%00n", None, 400, "path: must not contain NUL"),
        ("GET", "/v1/runs?limit=%00", None, 400, "limit: must not contain NUL"),
        (
            "POST",
            "/v1/imports/preview",
            {"source": "filtered_organizations", "filter": 'Name = "a\u0000"'},
            400,
            "filter: must not contain NUL",
        ),
        ("POST", "/v1/imports", OVERSIZED, 413, ""),
    ],
    "mapper": [
        ("GET", "/v1/accounts?cursor=a%00b", None, 400, "cursor: must not contain NUL"),
        ("GET", "/v1/contacts/a%00b", None, 400, "path: must not contain NUL"),
    ],
    "pusher": [
        (
            "POST",
            "/v1/push/preview",
            {"object": "organization", "records": [{"match_key": "a\u0000.com", "fields": {}}]},
            400,
            "records.0.match_key: must not contain NUL",
        ),
        ("POST", "/v1/push", OVERSIZED, 413, ""),
    ],
    "auditlog": [
        ("GET", f"/v1/runs?cursor={_cursor('0001-01-01T00:00:00+01:00', 'r')}", None, 400, "cursor: not"),
        ("GET", "/v1/runs?cursor=" + _cursor("2026-01-01T00:00:00+00:00", "r\u0000"), None, 400, "cursor"),
        ("GET", f"/v1/runs/r/entries?cursor={_cursor('2026-01-01T00:00:00', 'e')}", None, 400, "cursor"),
        ("GET", "/v1/runs/r%00n/entries", None, 400, "path: must not contain NUL"),
    ],
}


@pytest.fixture
async def isolated_env(
    pg_pool: asyncpg.Pool, kafka_admin: AIOKafkaAdminClient, kafka_bootstrap: str
) -> AsyncIterator[dict[str, str]]:
    """Own consumer groups and database schemas, so the test never moves a real group's offsets."""
    uid = uuid.uuid4().hex[:8]
    env = {}
    for service in SERVICES:
        env[f"{service.upper()}_GROUP_ID"] = f"itest-{service}-{uid}"
        env[f"{service.upper()}_DB_SCHEMA"] = f"itest_{service}_{uid}"
        if service != "connector":  # at the end of its topics: none of other tests' history to work through
            await position_group_at_end(
                kafka_bootstrap, env[f"{service.upper()}_GROUP_ID"], topics_consumed_by(service)
            )
    yield env
    await drop_schemas(pg_pool, *(env[f"{service.upper()}_DB_SCHEMA"] for service in SERVICES))


@pytest.mark.parametrize("service", SERVICES)
async def test_service_becomes_ready_and_exits_cleanly_on_sigterm(
    service: str, isolated_env: dict[str, str], tmp_path: Path, pg_pool: asyncpg.Pool
) -> None:
    process = ServiceProcess(service, isolated_env, tmp_path / f"{service}.log")
    await process.start()
    await process.wait_ready()

    assert await process.get("/healthz") == 200
    assert await process.get("/metrics") == 200
    group = isolated_env.get(f"{service.upper()}_GROUP_ID") if service != "connector" else None
    await check_metrics_and_openapi(process, service, group)
    key = await _api_key(pg_pool)
    await _unrouted_calls_answer_json(process, key)
    await _bad_input_answers_json(process, key)
    await _send_a_request_aiohttp_cannot_parse(process)
    exit_code = await process.terminate()

    assert exit_code == 0, process.log_tail()
    assert '"service_stopped"' in process.log_text()
    _every_log_line_is_json_with_access_lines_and_tracebacks(process)


async def test_console_sends_every_page_to_sign_in_refuses_nul_input_and_exits_cleanly(
    tmp_path: Path, pg_pool: asyncpg.Pool
) -> None:
    schema = f"itest_console_{uuid.uuid4().hex[:8]}"
    process = ServiceProcess("console", {"CONSOLE_DB_SCHEMA": schema}, tmp_path / "console.log")
    try:
        await process.start()
        await process.wait_ready()

        assert await process.get("/healthz") == 200
        for path in ["/", UNROUTED]:
            status, headers, _ = await _page(process, "GET", path)
            assert status == 303 and headers["Location"].startswith("/login?next="), (path, status)
        assert (await _page(process, "GET", "/login"))[0] == 200
        for method, path, form in [("GET", "/login?next=%00", None), ("POST", "/login", {"email": "a\x00"})]:
            status, _, text = await _page(process, method, path, form)
            assert status == 400 and "NUL" in text, (path, status, text)
        assert await process.terminate() == 0, process.log_tail()
    finally:
        await drop_schemas(pg_pool, schema)


async def _page(
    process: ServiceProcess, method: str, path: str, form: dict[str, str] | None = None
) -> tuple[int, Any, str]:
    """Status, headers and HTML of one console request (redirects not followed)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, process.url + path, data=form, allow_redirects=False) as response,
    ):
        assert response.content_type == "text/html" or response.status == 303, await response.text()
        return response.status, response.headers, await response.text()


async def _api_key(pg_pool: asyncpg.Pool) -> str:
    """A key of a fresh tenant (the registry every service reads)."""
    registry = TenantRegistry(pg_pool)
    await registry.install()
    tenant = f"t{uuid.uuid4().hex[:8]}"
    await registry.create_tenant(tenant, tenant)
    return (await registry.issue_key(tenant, "lifecycle test")).full_key


async def _unrouted_calls_answer_json(process: ServiceProcess, key: str | None) -> None:
    """A path no route serves: JSON 404; a method the route does not allow: JSON 405 with `Allow`; both
    only after the key is checked (401 without one) where the service has tenant keys (`key` given)."""
    method, path, allowed = WRONG_METHOD[process.service]
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    status, body, _ = await _call(process, "GET", UNROUTED, headers)
    assert (status, body) == (404, {"error": "not_found", "message": f"No route serves GET {UNROUTED}."})

    status, body, allow = await _call(process, method, path, headers)
    assert status == 405 and body["error"] == "method_not_allowed", (status, body)
    assert f"{method} is not allowed on {path}" in body["message"]
    assert set(allow.split(",")) == allowed

    if key is not None:
        for keyless in [("GET", UNROUTED), (method, path)]:
            status, body, _ = await _call(process, *keyless, {})
            assert (status, body["error"]) == (401, "unauthorized"), (keyless, body)


async def _send_a_request_aiohttp_cannot_parse(process: ServiceProcess) -> None:
    """A raw NUL in the request line: aiohttp's parser refuses it (400) and logs the traceback."""
    reader, writer = await asyncio.open_connection("127.0.0.1", process.port)
    writer.write(b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    assert (await reader.readline()).startswith(b"HTTP/1.")
    writer.close()


def _every_log_line_is_json_with_access_lines_and_tracebacks(process: ServiceProcess) -> None:
    lines = [line for line in process.log_text().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            pytest.fail(f"{process.service} logged a line that is not JSON: {line[:300]}")
    access = [entry for entry in parsed if entry.get("event") == "http_request"]
    assert any(e["path"] == UNROUTED and e["status"] == 404 for e in access), access[:5]
    assert all("?" not in e["path"] for e in access)
    served = [e for e in parsed if e.get("logger") == "aiohttp.server"]
    assert served and "Traceback" in served[0].get("exception", ""), served


async def _bad_input_answers_json(process: ServiceProcess, key: str | None) -> None:
    """Each probe of BAD_INPUT answers its status with the JSON error shape naming the problem."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    for method, path, body, expected, problem in BAD_INPUT[process.service]:
        status, answer, _ = await _call(process, method, path, headers, body)
        assert status == expected, (method, path, answer)
        if expected == 413:
            assert answer["error"] == "payload_too_large" and answer["limit_bytes"] > 0, answer
        else:
            assert answer["error"] == "bad_request", answer
            assert answer["problems"][0].startswith(problem), (path, answer)


async def _call(
    process: ServiceProcess,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any = None,
) -> tuple[int, Any, str]:
    """Status, JSON body (the content type must be JSON) and `Allow` header of one call."""
    data = body if isinstance(body, bytes) else None if body is None else orjson.dumps(body)
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, process.url + path, headers=headers, data=data) as response,
    ):
        assert response.content_type == "application/json", (method, path, await response.text())
        return response.status, await response.json(), response.headers.get("Allow", "")
