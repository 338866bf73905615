"""Schemathesis against every service's HTTP API, as each serves it: no answer is a server error, and
every answer (status, content type, body) is one the service's OpenAPI document describes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest

from auditlog.bootstrap import assemble as assemble_auditlog
from auditlog.bootstrap import install_tables as install_auditlog_tables
from auditlog.openapi import auditlog_openapi
from auditlog.settings import AuditlogSettings
from connector.bootstrap import assemble_parts as assemble_connector
from connector.bootstrap import install_tables as install_connector_tables
from connector.openapi import openapi_document as connector_openapi
from connector.settings import ConnectorSettings
from mapper.openapi import mapper_openapi
from pipedrive_sandbox import SandboxHandle
from pusher.bootstrap import assemble as assemble_pusher
from pusher.bootstrap import install_tables as install_pusher_tables
from pusher.openapi import pusher_openapi
from pusher.settings import PusherSettings
from service_runtime.skeleton import Infrastructure
from tests.fuzz.api_fuzzer import FuzzReport, fuzz_api
from tests.fuzz.conftest import fresh_schema, sandbox_client_settings, served, tenant_headers

pytestmark = pytest.mark.integration


async def _fuzz(document: Mapping[str, Any], base_url: str, headers: Mapping[str, str]) -> FuzzReport:
    report = await asyncio.to_thread(fuzz_api, document, base_url, headers)
    if report.engine_errors and not report.findings:
        # Generation is deterministic: a run that errored without a failed check is run once more, so a
        # rare error of the fuzzing library's thread does not fail the suite while a real one (a request
        # the server never answers) errors again.
        report = await asyncio.to_thread(fuzz_api, document, base_url, headers)
    assert report.findings == [] and report.engine_errors == [], report.failures_text()
    assert set(report.statuses) >= {
        f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops
    }, "operations left untested"
    return report


async def test_the_auditlog_api_answers_as_described(infrastructure: Infrastructure) -> None:
    async with fresh_schema(infrastructure.pool, "auditlog") as schema:
        await install_auditlog_tables(infrastructure.pool, schema)
        settings = AuditlogSettings(db_schema=schema)
        async with served(assemble_auditlog, settings, infrastructure) as url:
            await _fuzz(auditlog_openapi(), url, await tenant_headers(infrastructure.pool))


async def test_the_mapper_api_answers_as_described(infrastructure: Infrastructure, mapper_url: str) -> None:
    await _fuzz(mapper_openapi(), mapper_url, await tenant_headers(infrastructure.pool))


async def test_the_pusher_api_answers_as_described(
    infrastructure: Infrastructure, mapper_url: str, sandbox: SandboxHandle
) -> None:
    pool = infrastructure.pool
    async with fresh_schema(pool, "pusher") as schema, fresh_schema(pool, "pdc") as client_schema:
        await install_pusher_tables(pool, schema)
        settings = PusherSettings(
            db_schema=schema, mapper_url=mapper_url, pipedrive=sandbox_client_settings(sandbox, client_schema)
        )
        async with served(assemble_pusher, settings, infrastructure) as url:
            await _fuzz(pusher_openapi(), url, await tenant_headers(pool))


async def test_the_connector_api_answers_as_described(
    infrastructure: Infrastructure, mapper_url: str, sandbox: SandboxHandle
) -> None:
    pool = infrastructure.pool
    async with fresh_schema(pool, "connector") as schema, fresh_schema(pool, "pdc") as client_schema:
        await install_connector_tables(pool, schema)
        settings = ConnectorSettings(
            db_schema=schema,
            pipedrive=sandbox_client_settings(sandbox, client_schema),
            default_api_base_url=sandbox.base_url,
            mapper_url=mapper_url,
        )
        async with served(assemble_connector, settings, infrastructure) as url:
            headers = await tenant_headers(pool)
            await _connect_by_token(url, headers, sandbox)
            await _fuzz(connector_openapi(), url, headers)


async def _connect_by_token(url: str, headers: dict[str, str], sandbox: SandboxHandle) -> None:
    """Connected to the sandbox, so that what reads Pipedrive reads it rather than answering "connect
    first" (the fuzzer may disconnect it again)."""
    async with aiohttp.ClientSession() as session:
        body = {"api_token": sandbox.api_token}
        async with session.post(f"{url}/v1/connection/api-token", json=body, headers=headers) as answer:
            assert answer.status == 200, await answer.text()
