"""The ledger: every API call with its token cost, so tests and benchmarks count exactly what a sync cost."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any


def token_fingerprint(secret: str) -> str:
    """A non-secret id for a credential (12 hex of its SHA-256): the ledger never stores secrets."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class LedgerEntry:
    """One call: what was asked, who asked, what it cost and how it was answered."""

    time: float
    method: str
    path: str
    operation_id: str | None
    api: str | None
    tokens: int
    company_id: int | None
    token: str | None
    auth: str | None
    status: int
    # What a 429 told the caller to wait before its next call (retry-after, else x-ratelimit-reset).
    wait_seconds: float | None = None


class Ledger:
    """An append-only list of calls with per-company and per-token totals."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []

    def record(self, entry: LedgerEntry) -> None:
        """Append one call."""
        self.entries.append(entry)

    def reset(self) -> None:
        """Forget every call."""
        self.entries.clear()

    def summary(self) -> dict[str, Any]:
        """Totals: calls and tokens overall, per company, per token and per operation."""
        tokens_by_company: Counter[str] = Counter()
        tokens_by_token: Counter[str] = Counter()
        calls_by_operation: Counter[str] = Counter()
        for entry in self.entries:
            tokens_by_company[str(entry.company_id)] += entry.tokens
            tokens_by_token[str(entry.token)] += entry.tokens
            calls_by_operation[str(entry.operation_id)] += 1
        return {
            "calls": len(self.entries),
            "tokens": sum(e.tokens for e in self.entries),
            "tokens_by_company": dict(tokens_by_company),
            "tokens_by_token": dict(tokens_by_token),
            "calls_by_operation": dict(calls_by_operation),
        }

    def as_json(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The entries (the last `limit` when given) as JSON-ready dicts."""
        if limit is None:
            return [asdict(entry) for entry in self.entries]
        return [asdict(entry) for entry in self.entries[len(self.entries) - limit :]] if limit > 0 else []
