"""Signing in and out. The sign-in form is protected by a double-submit CSRF cookie (there is no session
yet); failures are limited per account and per address before any password is checked."""

from __future__ import annotations

import hmac
import math
import secrets
from datetime import timedelta

import structlog
from aiohttp import web

from console.deps import deps_of, session_of
from console.guards import COOKIE
from console.rendering import render
from tenant_auth.users import normalize_email

LOGIN_CSRF_COOKIE = "psync_login_csrf"
_log = structlog.get_logger(__name__)


def _safe_next(raw: str | None) -> str:
    """Where to go after signing in: a path of this console only."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw and raw != "/login":
        return raw
    return "/"


async def _form(request: web.Request, *, status: int = 200, **context: object) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = await render(
        request, "sign_in.html", {"login_csrf": token, "title": "Sign in", **context}, status=status
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=deps_of(request).settings.cookie_secure,
    )
    return response


ENDED = {
    "page": "Your session has ended. Sign in again to carry on.",
    "change": "Your session ended before that was saved, so nothing was changed. Sign in again and"
    " repeat it.",
}
"""What the sign-in page says to a browser whose session ended (30 minutes unused, 12 hours after sign-in,
a new password, signed out elsewhere): after going to a page, or after sending a change."""


async def sign_in_page(request: web.Request) -> web.Response:
    """The sign-in form (saying why, when a session has ended)."""
    ended = ENDED.get(request.query.get("ended", ""))
    return await _form(request, next=_safe_next(request.query.get("next")), notice=ended)


async def sign_in(request: web.Request) -> web.Response:
    """Check the limits, then the password; start a session and go where the user was headed."""
    deps = deps_of(request)
    form = await request.post()
    email = normalize_email(str(form.get("email", "")))
    target = _safe_next(str(form.get("next", "")))
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie_token or not hmac.compare_digest(cookie_token, str(form.get("csrf_token", ""))):
        return await _form(
            request, status=403, email=email, next=target, error="The form expired. Try again."
        )
    address = request.remote or "unknown"
    wait = await deps.failed_sign_ins.locked_for(email, address)
    if wait is not None:
        _log.warning("sign_in_locked", address=address)
        message = f"Too many failed sign-ins. Try again in {_minutes(wait)}."
        return await _form(request, status=429, email=email, next=target, error=message)
    user = await deps.users.authenticate(email, str(form.get("password", "")))
    if user is None:
        await deps.failed_sign_ins.record(email, address)
        _log.info("sign_in_failed", address=address)
        return await _form(request, status=401, email=email, next=target, error="Wrong email or password.")
    await deps.failed_sign_ins.clear_account(email)
    token = await deps.sessions.start(user)
    _log.info("signed_in", tenant=user.tenant_id, role=user.role.value)
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="Lax", secure=deps.settings.cookie_secure, path="/"
    )
    response.del_cookie(LOGIN_CSRF_COOKIE)
    raise response


async def sign_out(request: web.Request) -> web.Response:
    """End the session and forget the cookie."""
    session = session_of(request)
    await deps_of(request).sessions.end(request.cookies[COOKIE])
    _log.info("signed_out", tenant=session.tenant_id)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response


def _minutes(wait: timedelta) -> str:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def add_sign_in_routes(app: web.Application) -> None:
    """Mount sign-in and sign-out."""
    app.router.add_get("/login", sign_in_page)
    app.router.add_post("/login", sign_in)
    app.router.add_post("/logout", sign_out)
