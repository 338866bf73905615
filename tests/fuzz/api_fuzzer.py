"""Schemathesis against one served API: every operation of its OpenAPI document called with generated
input (its examples, the coverage phase's boundary and invalid values, then random ones), each answer
checked against the document. Bounded and reproducible: a fixed number of examples per operation,
deterministic generation (the same requests on every run), a time limit per request. (No total time
limit: given one, schemathesis keeps fuzzing until it is spent.)

Blocking (schemathesis calls with `requests`): run it in a thread while the app serves on the loop."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.engine import StopReason, events, from_schema

# The server never fails (5xx), and every answer is one the document describes: a documented status,
# its content type, a body that validates against its schema.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# Stateful testing needs links between operations, which the documents do not declare.
PHASES = ["examples", "coverage", "fuzzing"]
MAX_EXAMPLES = 5
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Finding:
    """One failed check (or an error of the run itself) and how to reproduce it."""

    operation: str
    check: str
    message: str
    reproduce: str = ""

    def __str__(self) -> str:
        return f"{self.operation} [{self.check}] {self.message}\n    {self.reproduce}"


@dataclass
class FuzzReport:
    """What a run found, the statuses each operation answered, and why it stopped."""

    findings: list[Finding] = field(default_factory=list)
    engine_errors: list[Finding] = field(default_factory=list)
    """Errors raised while generating or sending a case (no check ran): a request the server never
    answered, or an error of the fuzzing library itself (CPython 3.11 sometimes raises "AST constructor
    recursion depth mismatch" when two threads build ASTs at once, cpython gh-106905)."""
    statuses: dict[str, collections.Counter[int]] = field(default_factory=dict)
    stop_reason: StopReason | None = None

    @property
    def requests(self) -> int:
        """How many requests were answered."""
        return sum(sum(counts.values()) for counts in self.statuses.values())

    def failures_text(self) -> str:
        """Every finding and engine error, for an assertion message."""
        return "\n".join(str(finding) for finding in [*self.findings, *self.engine_errors])


def fuzz_api(document: Mapping[str, Any], base_url: str, headers: Mapping[str, str]) -> FuzzReport:
    """Run schemathesis against the API at `base_url` described by `document`, with `headers` (a tenant's
    key) on every request; the findings are the failed checks."""
    schema = schemathesis.openapi.from_dict(dict(document))
    schema.config.update(
        base_url=base_url, headers=dict(headers), request_timeout=REQUEST_TIMEOUT_S, continue_on_failure=True
    )
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, no_shrink=True)
    schema.config.phases.update(phases=PHASES)
    schema.config.checks.update(included_check_names=list(CHECKS))
    report = FuzzReport()
    for event in from_schema(schema).execute():
        _record(report, event)
    return report


async def assert_answers_as_described(
    document: Mapping[str, Any], base_url: str, headers: Mapping[str, str]
) -> FuzzReport:
    """Fuzz the API (in a thread, while the app serves on the loop): no failed check, no error of the run,
    every operation of the document called."""
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


def _record(report: FuzzReport, event: events.EngineEvent) -> None:
    if isinstance(event, events.ScenarioFinished):
        recorder = event.recorder
        counts = report.statuses.setdefault(recorder.label, collections.Counter())
        counts.update(i.response.status_code for i in recorder.interactions.values() if i.response)
        for finding in _failed_checks(recorder.label, recorder.checks):
            if all(f.message != finding.message or f.operation != finding.operation for f in report.findings):
                report.findings.append(finding)
    elif isinstance(event, events.NonFatalError):
        report.engine_errors.append(Finding(event.label, "error", repr(event.value)))
    elif isinstance(event, events.FatalError):
        report.engine_errors.append(Finding("run", "fatal", repr(event.exception)))
    elif isinstance(event, events.EngineFinished):
        report.stop_reason = event.stop_reason


def _failed_checks(label: str, checks: Mapping[str, list[Any]]) -> list[Finding]:
    found: dict[tuple[str, str], Finding] = {}
    for nodes in checks.values():
        for node in nodes:
            info = node.failure_info
            if info is None:
                continue
            failure = info.failure
            message = f"{failure.title}: {failure.message}".replace("\n", " ")[:400]
            reproduce = info.code_sample[:300]
            found.setdefault((node.name, message), Finding(label, node.name, message, reproduce))
    return list(found.values())
