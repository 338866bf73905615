"""Schemathesis against the mapper's and the pusher's HTTP APIs as each serves it: no answer is a server
error, and every answer (status, content type, body) is one the service's OpenAPI document describes."""

from __future__ import annotations

import pytest

from mapper.openapi import mapper_openapi
from pipedrive_sandbox import SandboxHandle
from pusher.bootstrap import assemble as assemble_pusher
from pusher.bootstrap import install_tables as install_pusher_tables
from pusher.openapi import pusher_openapi
from pusher.settings import PusherSettings
from service_runtime.skeleton import Infrastructure
from tests.fuzz.api_fuzzer import assert_answers_as_described
from tests.fuzz.conftest import fresh_schema, sandbox_client_settings, served, tenant_headers

pytestmark = pytest.mark.integration


async def test_the_mapper_api_answers_as_described(infrastructure: Infrastructure, mapper_url: str) -> None:
    await assert_answers_as_described(mapper_openapi(), mapper_url, await tenant_headers(infrastructure.pool))


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
            await assert_answers_as_described(pusher_openapi(), url, await tenant_headers(pool))
