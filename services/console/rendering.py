"""Rendering pages: every template gets the signed-in user, the CSRF token, the current section, the
notice and the form's field problems left for the session, and the tenant's active alerts (the banner);
refusals become an error page (or fragment, for htmx)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from console.alert_banner import banner_alerts
from console.deps import SESSION, api_of, deps_of


class PageRefused(Exception):
    """A request the console answers with an explanation instead of the page: status, title, sentence,
    and where its "Back" link leads (the page the request came from, when the person should go on
    there; else the console's first page)."""

    def __init__(
        self, status: int, title: str, message: str, back: tuple[str, str] = ("/", "Back to the console")
    ) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message
        self.back_url, self.back_label = back


def is_htmx(request: web.Request) -> bool:
    """Whether htmx sent the request (it swaps a fragment, not the whole page)."""
    return request.headers.get("HX-Request") == "true"


async def render(
    request: web.Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> web.Response:
    """The template rendered with the page context around `context`."""
    page: dict[str, Any] = {"request_path": request.path}
    session = request.get(SESSION)
    if session is not None:
        page.update(session=session, csrf_token=session.csrf_token)
        if not is_htmx(request):
            page["notice"] = await deps_of(request).sessions.take_notice(session)
            page["field_problems"] = await deps_of(request).sessions.take_field_problems(session)
            page["alerts"] = await banner_alerts(api_of(request))
    page.update(context or {})
    return aiohttp_jinja2.render_template(template, request, page, status=status)


async def render_refusal(request: web.Request, refused: PageRefused) -> web.Response:
    """The refusal as an error page, or as a fragment in place of what htmx asked for."""
    template = "fragments/error.html" if is_htmx(request) else "error.html"
    context = {
        "title": refused.title,
        "message": refused.message,
        "status": refused.status,
        "back_url": refused.back_url,
        "back_label": refused.back_label,
    }
    return await render(request, template, context, status=refused.status)


async def redirect_with_notice(request: web.Request, location: str, notice: str) -> web.Response:
    """Post/redirect/get: the next page shows `notice`."""
    await deps_of(request).sessions.leave_notice(request[SESSION], notice)
    raise web.HTTPSeeOther(location)


async def redirect_with_field_problems(
    request: web.Request, location: str, problems: dict[str, str]
) -> web.Response:
    """Post/redirect/get of a refused form: the next page shows each problem next to its field (what was
    typed is not kept: the forms that use this have a secret as their only input)."""
    await deps_of(request).sessions.leave_field_problems(request[SESSION], problems)
    raise web.HTTPSeeOther(location)
