"""Every page of the console, mounted in one place."""

from __future__ import annotations

from aiohttp import web

from console.activity_pages import add_activity_routes
from console.alert_pages import add_alert_routes
from console.audiences_pages import add_audience_routes
from console.import_wizard import add_import_routes
from console.pipedrive_card import CARD, add_pipedrive_card_routes
from console.push_pages import add_push_routes
from console.settings_pages import add_settings_routes
from console.sign_in_pages import add_sign_in_routes


async def home(_request: web.Request) -> web.Response:
    """The console opens on the Pipedrive card, the entry point of the integration."""
    raise web.HTTPSeeOther(CARD)


def add_page_routes(app: web.Application) -> None:
    """Mount every page."""
    app.router.add_get("/", home)
    add_sign_in_routes(app)
    add_pipedrive_card_routes(app)
    add_activity_routes(app)
    add_alert_routes(app)
    add_audience_routes(app)
    add_import_routes(app)
    add_push_routes(app)
    add_settings_routes(app)
