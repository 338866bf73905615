"""The Pipedrive operations the sandbox serves, with their token costs.

The costs are copied from `shared/pipedrive/token_costs.tsv` (a test checks them against it). A route's name
in the aiohttp router is its `Operation.key`, which is how the gateway middleware finds what to charge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Api(StrEnum):
    """Which published spec an operation belongs to."""

    V2 = "v2"
    V1 = "v1"
    V1_LEGACY = "v1(2026-01, incl. deprecated)"


@dataclass(frozen=True)
class Operation:
    """One Pipedrive API operation: where it lives, its operation id and its `x-token-cost`."""

    api: Api
    method: str
    path: str
    operation_id: str
    tokens: int

    @property
    def key(self) -> str:
        """The aiohttp route name of this operation (unique across APIs)."""
        prefix = {Api.V2: "v2", Api.V1: "v1", Api.V1_LEGACY: "legacy"}[self.api]
        return f"{prefix}.{self.operation_id}"

    @property
    def url_path(self) -> str:
        """The path as served, with the API prefix (`/api/v2` or `/v1`)."""
        return ("/api/v2" if self.api is Api.V2 else "/v1") + self.path

    @property
    def is_search(self) -> bool:
        """Search operations have their own burst limit (10 per window on every plan)."""
        return self.path.endswith("/search")


def _op(api: Api, method: str, path: str, operation_id: str, tokens: int) -> Operation:
    return Operation(api, method, path, operation_id, tokens)


V2, V1, LEGACY = Api.V2, Api.V1, Api.V1_LEGACY

OPERATIONS: tuple[Operation, ...] = (
    _op(V2, "GET", "/organizations", "getOrganizations", 10),
    _op(V2, "POST", "/organizations", "addOrganization", 5),
    _op(V2, "GET", "/organizations/search", "searchOrganization", 20),
    _op(V2, "GET", "/organizations/{id}", "getOrganization", 1),
    _op(V2, "PATCH", "/organizations/{id}", "updateOrganization", 5),
    _op(V2, "DELETE", "/organizations/{id}", "deleteOrganization", 3),
    _op(V2, "GET", "/persons", "getPersons", 10),
    _op(V2, "POST", "/persons", "addPerson", 5),
    _op(V2, "GET", "/persons/search", "searchPersons", 20),
    _op(V2, "GET", "/persons/{id}", "getPerson", 1),
    _op(V2, "PATCH", "/persons/{id}", "updatePerson", 5),
    _op(V2, "DELETE", "/persons/{id}", "deletePerson", 3),
    _op(V2, "GET", "/deals", "getDeals", 10),
    _op(V2, "POST", "/deals", "addDeal", 5),
    _op(V2, "GET", "/deals/search", "searchDeals", 20),
    _op(V2, "GET", "/deals/{id}", "getDeal", 1),
    _op(V2, "PATCH", "/deals/{id}", "updateDeal", 5),
    _op(V2, "DELETE", "/deals/{id}", "deleteDeal", 3),
    _op(V2, "GET", "/activities", "getActivities", 10),
    _op(V2, "POST", "/activities", "addActivity", 5),
    _op(V2, "GET", "/organizationFields", "getOrganizationFields", 10),
    _op(V2, "POST", "/organizationFields", "addOrganizationField", 5),
    _op(V2, "GET", "/personFields", "getPersonFields", 10),
    _op(V2, "POST", "/personFields", "addPersonField", 5),
    _op(V2, "GET", "/dealFields", "getDealFields", 10),
    _op(V2, "POST", "/dealFields", "addDealField", 5),
    _op(V2, "GET", "/pipelines", "getPipelines", 5),
    _op(V2, "POST", "/pipelines", "addPipeline", 5),
    _op(V2, "GET", "/pipelines/{id}", "getPipeline", 1),
    _op(V2, "GET", "/stages", "getStages", 5),
    _op(V2, "POST", "/stages", "addStage", 5),
    _op(V2, "GET", "/stages/{id}", "getStage", 1),
    _op(V1, "GET", "/organizationFields", "getOrganizationFields", 20),
    _op(V1, "POST", "/organizationFields", "addOrganizationField", 10),
    _op(V1, "GET", "/personFields", "getPersonFields", 20),
    _op(V1, "POST", "/personFields", "addPersonField", 10),
    _op(V1, "GET", "/dealFields", "getDealFields", 20),
    _op(V1, "POST", "/dealFields", "addDealField", 10),
    _op(V1, "GET", "/users", "getUsers", 20),
    _op(V1, "GET", "/users/me", "getCurrentUser", 2),
    _op(V1, "GET", "/users/{id}", "getUser", 2),
    _op(V1, "GET", "/webhooks", "getWebhooks", 10),
    _op(V1, "POST", "/webhooks", "addWebhook", 10),
    _op(V1, "DELETE", "/webhooks/{id}", "deleteWebhook", 6),
    _op(V1, "PUT", "/organizations/{id}/merge", "mergeOrganizations", 40),
    _op(V1, "PUT", "/persons/{id}/merge", "mergePersons", 40),
    _op(V1, "PUT", "/deals/{id}/merge", "mergeDeals", 40),
    _op(V1, "GET", "/recents", "getRecents", 20),
    _op(LEGACY, "GET", "/organizations", "getOrganizations", 20),
    _op(LEGACY, "GET", "/organizations/{id}", "getOrganization", 2),
    _op(LEGACY, "GET", "/persons", "getPersons", 20),
    _op(LEGACY, "GET", "/persons/{id}", "getPerson", 2),
    _op(LEGACY, "GET", "/deals", "getDeals", 20),
    _op(LEGACY, "GET", "/deals/{id}", "getDeal", 2),
)

OPERATIONS_BY_KEY: dict[str, Operation] = {op.key: op for op in OPERATIONS}
