"""The client's Prometheus metrics, against the sandbox: calls by tenant, operation and outcome (5xx
and 429 apart), tokens charged, and the tenant's budget left today."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from pipedrive_client import PipedriveClientFactory, PipedriveUnavailable
from pipedrive_client.metrics import register_pipedrive_metrics
from tests.pipedrive_client.sandbox_server import RecordingSandbox

GET_ORGANIZATION = "GET v2 /organizations/{id}"


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


async def test_calls_tokens_errors_and_budget_left_are_counted_per_tenant_and_operation(
    factory: PipedriveClientFactory, sandbox: RecordingSandbox, api_token_tenant: str
) -> None:
    registry = CollectorRegistry()
    register_pipedrive_metrics(registry)
    register_pipedrive_metrics(registry)  # once per registry, whoever asks twice
    client = factory.for_tenant(api_token_tenant)
    tenant = {"tenant": api_token_tenant, "operation": GET_ORGANIZATION}

    await client.organizations.get(1)
    sandbox.handle.state.faults.error_share = 1.0
    with pytest.raises(PipedriveUnavailable):
        await client.organizations.get(1)
    sandbox.handle.state.faults.error_share = 0.0

    assert _value(registry, "psync_pipedrive_calls_total", **tenant, outcome="ok") == 1
    failed = _value(registry, "psync_pipedrive_calls_total", **tenant, outcome="server_error")
    assert failed >= 1
    charged = _value(registry, "psync_pipedrive_tokens_total", **tenant)
    assert charged == await factory.budget.spent_today(api_token_tenant)
    left = _value(registry, "psync_pipedrive_budget_remaining_tokens", tenant=api_token_tenant)
    assert left > 0
    assert _value(registry, "psync_pipedrive_call_seconds_count", operation=GET_ORGANIZATION) >= 1 + failed
