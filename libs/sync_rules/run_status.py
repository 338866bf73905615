"""A run's status in the activity log: one function of its counts and of how it ended.

Every service that reports runs (connector, mapper, pusher) and the auditlog, which shows them, decide the
status here and nowhere else (DESIGN.md section 5, "Activity log").
"""

from __future__ import annotations

from enum import StrEnum

from schemas.events.sync_runs import RunCounts, RunStatus

_SEVERITY = {RunStatus.SUCCESS: 0, RunStatus.WARNING: 1, RunStatus.ERROR: 2}


class RunEnd(StrEnum):
    """How a run ended."""

    COMPLETED = "completed"  # it did all it set out to do
    CANCELLED = "cancelled"  # an admin stopped it
    FAILED = "failed"  # it could not go on (Pipedrive refused it, it gave up)


def run_status(counts: RunCounts, end: RunEnd = RunEnd.COMPLETED) -> RunStatus:
    """Error when the run failed or every record of it failed; Warning when it was cancelled or some
    records were skipped or failed; Success when every record was applied or unchanged (or there were
    none)."""
    if end is RunEnd.FAILED or (counts.failed and counts.failed == counts.total):
        return RunStatus.ERROR
    if end is RunEnd.CANCELLED or counts.skipped or counts.failed:
        return RunStatus.WARNING
    return RunStatus.SUCCESS


def worst_status(*statuses: RunStatus) -> RunStatus:
    """The most severe of the statuses (Success when there are none): how two runs that are one piece of
    work, such as a connector run and the apply run of its records, are shown together."""
    return max(statuses, key=_SEVERITY.__getitem__, default=RunStatus.SUCCESS)
