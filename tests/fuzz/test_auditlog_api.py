"""Schemathesis against the auditlog's HTTP API as it serves it: no answer is a server error, and every
answer (status, content type, body) is one its OpenAPI document describes. (One module per service, so
that `make test`'s workers can run them at once.)"""

from __future__ import annotations

import pytest

from auditlog.bootstrap import assemble as assemble_auditlog
from auditlog.bootstrap import install_tables as install_auditlog_tables
from auditlog.openapi import auditlog_openapi
from auditlog.settings import AuditlogSettings
from service_runtime.skeleton import Infrastructure
from tests.fuzz.api_fuzzer import assert_answers_as_described
from tests.fuzz.conftest import fresh_schema, served, tenant_headers

pytestmark = pytest.mark.integration


async def test_the_auditlog_api_answers_as_described(infrastructure: Infrastructure) -> None:
    async with fresh_schema(infrastructure.pool, "auditlog") as schema:
        await install_auditlog_tables(infrastructure.pool, schema)
        # The API is the same without the alert windows (a worker this test does not run); with them,
        # assembling the app imports faust, starts the windows' producer and declares their two topics
        # of 12 partitions on the shared Kafka, for nothing the fuzzer calls.
        settings = AuditlogSettings(db_schema=schema, alert_windows=False)
        async with served(assemble_auditlog, settings, infrastructure) as url:
            await assert_answers_as_described(
                auditlog_openapi(), url, await tenant_headers(infrastructure.pool)
            )
