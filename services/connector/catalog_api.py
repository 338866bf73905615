"""The catalog API: what the connected Pipedrive holds (fields, pipelines and stages, users, company),
from the stored catalog, or read again on demand.

    GET  /v1/catalog            the stored catalog (read first when there is none or it is too old)
    POST /v1/catalog/refresh    read it from Pipedrive now
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from connector.api_support import pipedrive_failure, require_connected
from connector.catalog import Catalog, Catalogs
from pipedrive_client import PipedriveClientFactory, PipedriveError
from tenant_auth.middleware import tenant_of


@dataclass(frozen=True)
class CatalogApi:
    """What the catalog API uses: the tenants' credentials (connected or not) and their catalogs."""

    factory: PipedriveClientFactory
    catalogs: Catalogs


API = web.AppKey("catalog_api", CatalogApi)


def _answer(catalog: Catalog) -> web.Response:
    return web.json_response(catalog.model_dump(mode="json"))


async def get_catalog(request: web.Request) -> web.Response:
    """The tenant's catalog (409 when Pipedrive is not connected)."""
    api, tenant = request.app[API], tenant_of(request)
    await require_connected(api.factory, tenant)
    try:
        return _answer(await api.catalogs.current(tenant))
    except PipedriveError as failure:
        raise pipedrive_failure(failure) from failure


async def refresh_catalog(request: web.Request) -> web.Response:
    """Read the catalog from Pipedrive now."""
    api, tenant = request.app[API], tenant_of(request)
    await require_connected(api.factory, tenant)
    try:
        return _answer(await api.catalogs.refreshed(tenant))
    except PipedriveError as failure:
        raise pipedrive_failure(failure) from failure


def add_catalog_routes(app: web.Application, api: CatalogApi) -> None:
    """Mount the catalog API."""
    app[API] = api
    app.router.add_get("/v1/catalog", get_catalog)
    app.router.add_post("/v1/catalog/refresh", refresh_catalog)
