"""Schemathesis against the connector's HTTP API as it serves it, connected to the sandbox: no answer is
a server error, and every answer (status, content type, body) is one its OpenAPI document describes."""

from __future__ import annotations

import aiohttp
import pytest

from connector.bootstrap import assemble_parts as assemble_connector
from connector.bootstrap import install_tables as install_connector_tables
from connector.openapi import openapi_document as connector_openapi
from connector.settings import ConnectorSettings
from pipedrive_sandbox import SandboxHandle
from service_runtime.skeleton import Infrastructure
from tests.fuzz.api_fuzzer import assert_answers_as_described
from tests.fuzz.conftest import fresh_schema, sandbox_client_settings, served, tenant_headers

pytestmark = pytest.mark.integration


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
            await assert_answers_as_described(connector_openapi(), url, headers)


async def _connect_by_token(url: str, headers: dict[str, str], sandbox: SandboxHandle) -> None:
    """Connected to the sandbox, so that what reads Pipedrive reads it rather than answering "connect
    first" (the fuzzer may disconnect it again)."""
    async with aiohttp.ClientSession() as session:
        body = {"api_token": sandbox.api_token}
        async with session.post(f"{url}/v1/connection/api-token", json=body, headers=headers) as answer:
            assert answer.status == 200, await answer.text()
