"""Token cost of every Pipedrive operation, from `token_costs.tsv` shipped with the package (a copy of
`shared/pipedrive/token_costs.tsv`; a test keeps the two equal)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipedrive_client.endpoints import Endpoint

COSTS_FILE = Path(__file__).with_name("token_costs.tsv")


@dataclass(frozen=True)
class TokenCosts:
    """Costs by (api, method, templated path)."""

    costs: dict[tuple[str, str, str], int]

    def cost_of(self, endpoint: Endpoint) -> int:
        """Tokens one call of `endpoint` costs; KeyError for an operation the table does not know."""
        key = (endpoint.api, endpoint.method, endpoint.template)
        if key not in self.costs:
            raise KeyError(f"no token cost known for {endpoint.name}")
        return self.costs[key]


def parse_token_costs(text: str) -> TokenCosts:
    """Parse the TSV (columns api, method, path, tokens, ...); rows of legacy specs are skipped."""
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    costs = {
        (row["api"], row["method"], row["path"]): int(row["tokens"])
        for row in rows
        if row["api"] in ("v1", "v2")
    }
    return TokenCosts(costs)


@cache
def load_token_costs() -> TokenCosts:
    """The shipped cost table (read once per process)."""
    return parse_token_costs(COSTS_FILE.read_text())
