"""The CloudEvents `source` of every event the services emit: which part of the system said it.

Consumers tell one producer's events from another's by it (the mapper's apply runs from the connector's
runs on the same topic, for instance), so each value is written here once and producers name it.
"""

from __future__ import annotations

CONNECTOR = "/connector"
"""The connector: source changes, tenant settings, sync and import runs, webhook windows."""

MAPPER = "/psync/mapper"
"""The mapper: record results and apply runs."""

PUSHER = "/psync/pusher"
"""The pusher: push results and the runs of manual batches and auto-push windows."""

MANUAL_PUSH = "/psync/pusher/manual-push"
"""The pusher's manual-push API: the push requests of a confirmed selection."""

EXAMPLES = "/psync/examples"
"""The example messages of the contract (schemas/examples)."""
