"""`POST /v1/runs/{run_id}/retry`: retry the failed records of a run as a new run linked to it.

The activity log finds the run's failed records (an apply run's are its connector run's) and asks the
service that did the work to do it again for exactly those records (`auditlog.retry_rules`: the connector
re-reads them from Pipedrive, the pusher pushes them again), then records the new run, running, with
`retry_of` the first run (which lists it in `retried_by`). Answers:

- 202 `{"data": {"run_id", "retry_of", "service", "records", "left_out", "already_running"}}`;
- while a retry of the run has not ended, asking again answers that retry (`already_running: true`) and
  starts nothing: requests for one run are decided one at a time, under a lock;
- 404 for a run the tenant does not have, 409 `nothing_to_retry` when it has no failed records, 422
  `not_retriable` when none of them can be named to its service or the run's kind is not retried, 409
  `not_connected` (and the like) when the service refuses, 502 `service_unavailable` when it does not answer;
- 409 `results_still_arriving` (Retry-After: 1) when the run has ended but some of the failed records it
  reported have no entry in the log yet (a run's end and its records' results travel on different topics):
  a retry then would leave them out.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from pydantic import BaseModel, Field

from auditlog.ports import ActivityReads, RetrySending, RunRetries
from auditlog.retry_rules import (
    NotRetriable,
    Refusal,
    RetryUndeliverable,
    RetryWork,
    failures_not_logged_yet,
    first_run_of,
    retry_work,
    runs_holding_failures,
)
from service_runtime.http_errors import json_error
from tenant_auth.actors import actor_of
from tenant_auth.middleware import tenant_of


class RetryStarted(BaseModel):
    """The retry run: started now, or the one of this run still running (`already_running`)."""

    run_id: str
    retry_of: str = Field(
        description="The run whose failed records it retries (an apply run's: its connector run)."
    )
    service: str | None = Field(default=None, description="connector (re-read) or pusher (re-push)")
    records: int | None = Field(default=None, description="How many failed records it retries.")
    left_out: int | None = Field(
        default=None, description="Failed records it could not name to its service (no id), or over 1,000."
    )
    already_running: bool


class RetryAnswer(BaseModel):
    """The answer of `POST /v1/runs/{run_id}/retry` (202)."""

    data: RetryStarted


RUNS = web.AppKey("retry_runs", ActivityReads)
RETRIES = web.AppKey("activity_retries", RunRetries)
REQUESTS = web.AppKey("retry_requests", RetrySending)


async def retry_run(request: web.Request) -> web.Response:
    """Retry the run's failed records (or answer the retry of it still running)."""
    tenant = tenant_of(request)
    run = await request.app[RUNS].run(tenant, request.match_info["run_id"])
    if run is None:
        raise json_error(404, "not_found", "No such run for this tenant.")
    first = first_run_of(run)
    if first != run.run_id:  # an apply run: its connector run is the one retried (if the log has it)
        run = await request.app[RUNS].run(tenant, first) or run
    holding = runs_holding_failures(first)
    await _refuse_while_results_arrive(request.app[RUNS], tenant, holding)
    retries = request.app[RETRIES]
    failed = await retries.failed_records(tenant, holding)
    async with retries.deciding(tenant, first) as decision:
        running = await decision.running_retry()
        if running is not None:
            return _accepted({"run_id": running, "retry_of": first, "already_running": True})
        try:
            work = retry_work(run, failed, await decision.next_attempt())
        except NotRetriable as refused:
            raise json_error(refused.status, refused.code, str(refused)) from refused
        await _send(request, work)
        await decision.record(work, datetime.now(UTC))
    return _accepted(
        {
            "run_id": work.run_id,
            "retry_of": work.retry_of,
            "service": work.service,
            "records": work.records,
            "left_out": work.left_out,
            "already_running": False,
        }
    )


async def _refuse_while_results_arrive(reads: ActivityReads, tenant: str, run_ids: tuple[str, ...]) -> None:
    """409 `results_still_arriving` while an ended run's failed records are not all in the log yet."""
    runs = [run for run in [await reads.run(tenant, run_id) for run_id in run_ids] if run is not None]
    missing = failures_not_logged_yet(runs, await reads.tallies(tenant, run_ids))
    if missing:
        raise json_error(
            409, "results_still_arriving",
            f"{missing} failed record(s) of this run are not in the activity log yet; retry in a moment.",
            headers={"Retry-After": "1"},
        )  # fmt: skip


async def _send(request: web.Request, work: RetryWork) -> None:
    authorization = request.headers.get("Authorization", "")
    try:
        refusal = await request.app[REQUESTS].send(work, authorization, actor_of(request).name)
    except RetryUndeliverable as failure:
        raise json_error(502, "service_unavailable", str(failure), service=failure.service) from failure
    if refusal is not None:
        raise _refused(work.service, refusal)


def _refused(service: str, refusal: Refusal) -> web.HTTPException:
    """A service's refusal as this API's answer: a state the admin can change (409: not connected) as it
    is; a request the service would not take (its records are gone) as not retriable."""
    message = f"The {service} refused the retry: {refusal.message}"
    if refusal.status == 409:
        return json_error(409, refusal.code, message, service=service)
    return json_error(422, "not_retriable", message, service=service, service_error=refusal.code)


def _accepted(data: dict[str, object]) -> web.Response:
    return web.json_response({"data": data}, status=202)


def add_retry_routes(
    app: web.Application, reads: ActivityReads, retries: RunRetries, requests: RetrySending
) -> None:
    """Mount the retry API on the service's application."""
    app[RUNS] = reads
    app[RETRIES] = retries
    app[REQUESTS] = requests
    app.router.add_post("/v1/runs/{run_id}/retry", retry_run)
