"""Every service's OpenAPI 3.1 description: valid, checked in up to date (docs/openapi/, `make schemas`),
and describing exactly the routes its app serves. A route added without its line in the service's
`openapi.py` table (or a line left after its route went) fails here, naming the route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from aiohttp import web
from openapi_spec_validator import validate
from prometheus_client import CollectorRegistry

from auditlog.activity_api import add_activity_routes
from auditlog.alert_api import add_alert_routes
from auditlog.audit_api import add_audit_routes
from auditlog.openapi import auditlog_openapi
from auditlog.retry_api import add_retry_routes
from mapper.bootstrap import add_api_routes
from mapper.openapi import mapper_openapi
from openapi_docs import GENERATORS, stale
from pusher.manual_push_api import add_manual_push_routes
from pusher.openapi import pusher_openapi
from service_runtime.health import add_operational_routes
from service_runtime.openapi import add_openapi_route, described_routes, served_routes

UNUSED: Any = None  # the routes' dependencies: registering routes uses none of them


def _mapper(app: web.Application) -> None:
    add_api_routes(app, UNUSED, "mapper")


def _auditlog(app: web.Application) -> None:
    add_activity_routes(app, UNUSED)
    add_retry_routes(app, UNUSED, UNUSED, UNUSED)
    add_audit_routes(app, UNUSED)
    add_alert_routes(app, UNUSED, frozenset())


def _pusher(app: web.Application) -> None:
    add_manual_push_routes(app, UNUSED, UNUSED, UNUSED)


# Each service's API routes, registered by the function its bootstrap calls, and its document.
APPS: dict[str, tuple[Callable[[web.Application], None], Callable[[], dict[str, Any]]]] = {
    "mapper": (_mapper, mapper_openapi),
    "auditlog": (_auditlog, auditlog_openapi),
    "pusher": (_pusher, pusher_openapi),
}


def test_the_checked_in_documents_are_what_the_code_generates() -> None:
    assert stale() == [], "run `make schemas` and commit docs/openapi/"


@pytest.mark.parametrize("service", sorted(GENERATORS))
def test_each_document_is_valid_openapi_3_1(service: str) -> None:
    document = GENERATORS[service]()
    assert document["openapi"].startswith("3.1")
    validate(cast(Any, document))


@pytest.mark.parametrize("service", sorted(APPS))
def test_each_document_describes_exactly_the_served_routes(service: str) -> None:
    add_routes, build = APPS[service]
    app = web.Application()
    add_routes(app)
    add_operational_routes(app, {}, CollectorRegistry())
    add_openapi_route(app, build())

    served, described = served_routes(app), described_routes(build())

    assert served - described == set(), f"routes {service} serves without a description"
    assert described - served == set(), f"routes described for {service} that it does not serve"
