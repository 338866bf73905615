"""Schemathesis against every service's HTTP API, as each serves it: no answer is a server error, and
every answer (status, content type, body) is one the service's OpenAPI document describes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from auditlog.bootstrap import assemble as assemble_auditlog
from auditlog.bootstrap import install_tables as install_auditlog_tables
from auditlog.openapi import auditlog_openapi
from auditlog.settings import AuditlogSettings
from mapper.openapi import mapper_openapi
from service_runtime.skeleton import Infrastructure
from tests.fuzz.api_fuzzer import FuzzReport, fuzz_api
from tests.fuzz.conftest import fresh_schema, served, tenant_headers

pytestmark = pytest.mark.integration


async def _fuzz(document: Mapping[str, Any], base_url: str, headers: Mapping[str, str]) -> FuzzReport:
    report = await asyncio.to_thread(fuzz_api, document, base_url, headers)
    assert report.findings == [], report.failures_text()
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
