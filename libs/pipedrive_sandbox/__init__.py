"""A local Pipedrive: API v2 entities, v1 fields/users/webhooks/merge/recents, OAuth, token-based rate
limits, webhooks with retries and bans, faults on demand and a ledger of every call.

Start it in-process with `run_sandbox(SandboxConfig(...))`, or build the app with `create_app`.
"""

from pipedrive_sandbox.app import SandboxHandle, create_app, run_sandbox
from pipedrive_sandbox.clock import SandboxClock
from pipedrive_sandbox.config import Plan, SandboxConfig

__all__ = ["Plan", "SandboxClock", "SandboxConfig", "SandboxHandle", "create_app", "run_sandbox"]
