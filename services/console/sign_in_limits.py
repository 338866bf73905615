"""How many failed sign-ins the console allows, per account and per client address over a sliding window
(counted by `sign_in_store.FailedSignIns`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class SignInLimits:
    """How many failures the window allows, per account and per address."""

    per_account: int
    per_address: int
    window: timedelta
