"""deploy/observability: the Prometheus alert rules and the Grafana dashboard parse (PromQL by
promql-parser, the Rust parser Prometheus-compatible databases use) and name only metrics the services
export, each under the names the code registers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client import CollectorRegistry

from auditlog.bootstrap import runs_finished_counter
from pipedrive_client.metrics import register_pipedrive_metrics
from pusher.parking import parked_pushes_gauge
from service_runtime.http_metrics import http_metrics_middleware, register_process_metrics
from stream_runner.metrics import RunnerMetrics

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy/observability"
PROMETHEUS_OWN = {"up"}
SEVERITIES = {"info", "warning", "critical"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


def exported_names() -> set[str]:
    """Every sample name the services' code registers (all services' collectors on one registry)."""
    registry = CollectorRegistry()
    RunnerMetrics(registry)
    register_pipedrive_metrics(registry)
    http_metrics_middleware(registry)
    register_process_metrics(registry)
    runs_finished_counter(registry)
    parked_pushes_gauge(registry)
    return {f"{m.name}{suffix}" for m in registry.collect() for suffix in _SUFFIXES.get(m.type, ("",))}


def metric_names(expr: str) -> set[str]:
    """The metrics an expression selects (raises ValueError when it does not parse)."""
    found: set[str] = set()

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            found.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((OBSERVABILITY / "alerts.yaml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _targets() -> list[str]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_the_code_exports_the_metrics_that_matter() -> None:
    names = exported_names()
    for wanted in (
        "psync_pipedrive_calls_total",
        "psync_pipedrive_tokens_total",
        "psync_pipedrive_budget_remaining_tokens",
        "psync_runs_finished_total",
        "psync_consumer_lag",
        "psync_dlq_messages",
        "psync_parked_pushes",
        "psync_http_requests_total",
        "psync_http_request_seconds_bucket",
        "psync_message_seconds_bucket",
        "process_cpu_seconds_total",
    ):
        assert wanted in names


def test_every_alert_rule_is_well_formed() -> None:
    rules = _rules()
    assert len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        if "for" in rule:
            promql_parser.parse_duration(rule["for"])


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: r["alert"])
def test_every_alert_expression_parses_and_names_exported_metrics(rule: dict[str, Any]) -> None:
    names = metric_names(rule["expr"])

    assert names
    assert names - exported_names() - PROMETHEUS_OWN == set()


def test_every_dashboard_query_parses_and_names_exported_metrics() -> None:
    exported = exported_names()
    for expr in _targets():
        assert metric_names(expr) - exported == set(), expr


def test_the_dashboard_is_laid_out() -> None:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert all({"h", "w", "x", "y"} <= set(p["gridPos"]) for p in dashboard["panels"])
    assert {v["name"] for v in dashboard["templating"]["list"]} >= {"datasource", "job", "tenant"}


def test_a_misspelt_metric_or_a_broken_expression_is_caught() -> None:
    with pytest.raises(ValueError):
        metric_names("rate(psync_messages_total[5m")
    assert metric_names("rate(psync_mesages_total[5m])") - exported_names() == {"psync_mesages_total"}
