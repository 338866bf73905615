"""Alerts: dismissing an alert of the banner (`console.alert_banner`) and the alert settings
(notification webhook, failure threshold and window), kept by the auditlog, which checks them: a refused
value is shown with its problem and nothing is saved."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from console.deps import api_of
from console.form_numbers import whole_number
from console.problem_words import plain_problem_line
from console.rendering import redirect_with_notice, render
from console.service_api import ServiceFailed

LABELS = {
    "webhook_url": "Webhook URL",
    "failure_threshold": "Alert when this many records fail",
    "window_minutes": "Within this many minutes",
}
"""The form's label of each setting, which names a refused one."""


def settings_body(form: Any) -> dict[str, Any]:
    """The settings the form submitted, as the auditlog's API takes them (numbers it cannot read are
    passed as typed, for the API to refuse with its problem)."""
    body: dict[str, Any] = {"webhook_url": form.get("webhook_url", "").strip() or None}
    for name in ("failure_threshold", "window_minutes"):
        raw = form.get(name, "").strip()
        number = whole_number(raw)
        body[name] = raw if number is None else number
    return body


async def show_alerts(request: web.Request) -> web.Response:
    """The alert settings form and the active alerts."""
    settings = await api_of(request).get_ok("auditlog", "/v1/alerts/settings")
    context = {"title": "Alerts", "section": "alerts", "settings": settings}
    return await render(request, "alerts.html", context)


async def save_settings(request: web.Request) -> web.Response:
    """Save the alert settings; a refusal shows each problem and keeps what was typed."""
    form = await request.post()
    body = settings_body(form)
    answer = await api_of(request).send("auditlog", "PUT", "/v1/alerts/settings", body)
    if answer.status == 400:
        problems = [plain_problem_line(p, LABELS) for p in answer.problems or [answer.message]]
        context = {"title": "Alerts", "section": "alerts", "settings": body, "problems": problems}
        return await render(request, "alerts.html", context, status=400)
    if not answer.ok:
        raise ServiceFailed("auditlog", answer)
    return await redirect_with_notice(request, "/alerts", "Alert settings saved.")


async def dismiss_alert(request: web.Request) -> web.Response:
    """Take an alert off the banner, then go back to the page it was dismissed on."""
    form = await request.post()
    alert_id = request.match_info["alert_id"]
    path = f"/v1/alerts/{quote(alert_id, safe='')}/acknowledge"
    answer = await api_of(request).send("auditlog", "POST", path)
    back = str(form.get("back", "/"))
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    notice = "Alert dismissed." if answer.ok else f"The alert was not dismissed: {answer.message}"
    return await redirect_with_notice(request, target, notice)


def add_alert_routes(app: web.Application) -> None:
    """Mount the alert pages."""
    app.router.add_get("/alerts", show_alerts)
    app.router.add_post("/alerts/settings", save_settings)
    app.router.add_post("/alerts/{alert_id}/dismiss", dismiss_alert)
