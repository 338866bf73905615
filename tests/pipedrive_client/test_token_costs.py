"""The shipped token cost table is the shared one, and endpoints find their costs in it."""

from __future__ import annotations

from pathlib import Path

from pipedrive_client.endpoints import Endpoint
from pipedrive_client.token_costs import COSTS_FILE, load_token_costs

SHARED_COSTS = Path(__file__).resolve().parents[3] / "shared" / "pipedrive" / "token_costs.tsv"


def test_the_shipped_cost_table_is_a_copy_of_the_shared_one() -> None:
    assert COSTS_FILE.read_bytes() == SHARED_COSTS.read_bytes()


def test_costs_follow_the_table_for_v2_and_v1_operations() -> None:
    costs = load_token_costs()

    assert costs.cost_of(Endpoint("v2", "GET", "/organizations")) == 10
    assert costs.cost_of(Endpoint("v2", "GET", "/persons/{id}")) == 1
    assert costs.cost_of(Endpoint("v2", "POST", "/deals")) == 5
    assert costs.cost_of(Endpoint("v2", "DELETE", "/deals/{id}")) == 3
    assert costs.cost_of(Endpoint("v2", "GET", "/organizations/search")) == 20
    assert costs.cost_of(Endpoint("v1", "PUT", "/persons/{id}/merge")) == 40
    assert costs.cost_of(Endpoint("v1", "GET", "/users/me")) == 2
