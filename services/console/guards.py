"""The console's middlewares, outermost first: HTML error pages, security headers, the session guard
(every page but sign-in needs a signed-in user), and the CSRF and role guard on every state-changing
request (a viewer sees everything and changes nothing)."""

from __future__ import annotations

import hmac
import uuid
from urllib.parse import urlencode, urlsplit

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from console.deps import SESSION, deps_of
from console.problem_words import plain_problems
from console.rendering import PageRefused, render_refusal
from console.service_api import ServiceFailed, ServiceUnreachable
from console.sessions import ConsoleSession

COOKIE = "psync_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/readyz", "/metrics", "/favicon.ico"})
# Pipedrive's redirect URI: it needs a session only for connects the console started (its handler asks
# for one), and Pipedrive's app-uninstall call (DELETE, the app's Basic auth) comes there without one.
OAUTH_CALLBACK = "/pipedrive/callback"
PUBLIC_PREFIXES = ("/static/",)
ANY_ROLE_CHANGES = frozenset({"/logout"})
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_log = structlog.get_logger(__name__)


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as a page (or, for an htmx request, a fragment) a person can act on."""
    try:
        return await handler(request)
    except PageRefused as refused:
        return await render_refusal(request, refused)
    except ServiceUnreachable as failure:
        return await render_refusal(request, PageRefused(503, "A service is not answering", str(failure)))
    except ServiceFailed as failure:
        _log.warning("service_failed", service=failure.service, status=failure.answer.status)
        return await render_refusal(request, refusal_of(failure))
    except web.HTTPNotFound:
        return await render_refusal(request, PageRefused(404, "Page not found", "There is no such page."))
    except web.HTTPMethodNotAllowed:
        return await render_refusal(
            request, PageRefused(405, "Not allowed", f"{request.method} is not allowed here.")
        )
    except web.HTTPRequestEntityTooLarge:
        message = "The form is larger than the console accepts. Send less at a time."
        return await render_refusal(request, PageRefused(413, "That's too much", message))
    except web.HTTPException as answer:
        if answer.status < 400 or answer.content_type == "text/html":
            raise
        return await render_refusal(request, PageRefused(answer.status, "That can't be done", answer.reason))
    except web.RequestPayloadError:
        message = "The form could not be read (it is not encoded as its headers say)."
        return await render_refusal(request, PageRefused(400, "That input can't be used", message))
    except Exception:
        error_id = uuid.uuid4().hex[:12]
        _log.exception("page_failed", path=request.path, error_id=error_id)
        message = f"The console failed to show this page. Error id {error_id} (for your administrator)."
        return await render_refusal(request, PageRefused(500, "Something went wrong", message))


def refusal_of(failure: ServiceFailed) -> PageRefused:
    """A service's error as a page: what it refused as bad input (a tampered cursor or filter in the
    address) or does not know is the person's 400 or 404, with the service's words, and a 429 (Pipedrive's
    budget spent) says to wait; anything else is the service failing, a 502."""
    answer = failure.answer
    if answer.status in (400, 422):
        words = plain_problems(answer.problems, answer.message)
        return PageRefused(
            400, "That input can't be used", f"The {failure.service} service refused it: {words}"
        )
    if answer.status == 404:
        return PageRefused(404, "Not found", answer.message)
    if answer.status == 429:  # Pipedrive's budget or rate limit says wait
        return PageRefused(429, "Not now", f"{answer.message}. Try again later.")
    return PageRefused(502, "Something went wrong", str(failure))


@web.middleware
async def refuse_nul_input(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A NUL character in the path, the query or a form field is a 400 page (PostgreSQL text cannot hold
    one, and nothing a person types has one)."""
    values = [request.path, *request.query.keys(), *request.query.values()]
    if request.method not in SAFE_METHODS and request.content_type in FORM_TYPES:
        form = await request.post()
        values += [*form.keys(), *(v for v in form.values() if isinstance(v, str))]
    if any("\x00" in value for value in values):
        raise PageRefused(
            400, "That input can't be used", "It contains a NUL character, which no field accepts."
        )
    return await handler(request)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No framing, no sniffing, no caching of pages, a strict content policy."""
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith(PUBLIC_PREFIXES):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _is_public(request: web.Request) -> bool:
    return (
        request.path in PUBLIC_PATHS
        or request.path == OAUTH_CALLBACK
        or request.path.startswith(PUBLIC_PREFIXES)
    )


async def signed_in(request: web.Request) -> ConsoleSession | None:
    """The session of the request's cookie, if it is a live one."""
    token = request.cookies.get(COOKIE)
    return await deps_of(request).sessions.find(token) if token else None


def to_sign_in(request: web.Request) -> web.StreamResponse:
    """Off to the sign-in page, and back afterwards to the page the person was on (for a change, or a
    part of a page htmx asked for, the page it was sent from). A browser whose session has ended (it still
    holds the cookie) is told so on the sign-in page, and, for a change, that it was not made."""
    sent_from = request.headers.get("HX-Current-URL") or request.headers.get("Referer") or ""
    if request.method in SAFE_METHODS and not request.headers.get("HX-Request"):
        target = request.path_qs
    else:
        target = _same_console_page(sent_from, request.host)
    query = {"next": target}
    if COOKIE in request.cookies:
        query["ended"] = "change" if request.method not in SAFE_METHODS else "page"
    location = f"/login?{urlencode(query, safe='/')}"
    if request.headers.get("HX-Request"):
        return web.Response(status=200, headers={"HX-Redirect": location})
    raise web.HTTPSeeOther(location)


def _same_console_page(url: str, host: str) -> str:
    """The path (and query) of `url` when it is a page of this console, else the first page."""
    parts = urlsplit(url)
    if parts.netloc != host or not parts.path.startswith("/"):
        return "/"
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


@web.middleware
async def session_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The signed-in user's session on the request, or off to the sign-in page."""
    if _is_public(request):
        return await handler(request)
    session = await signed_in(request)
    if session is None:
        return to_sign_in(request)
    request[SESSION] = session
    return await handler(request)


@web.middleware
async def change_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A state-changing request needs the session's CSRF token, and an admin (sign-out excepted)."""
    if request.method in SAFE_METHODS or _is_public(request):
        return await handler(request)
    session = request[SESSION]
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and request.content_type in FORM_TYPES:
        presented = str((await request.post()).get(CSRF_FIELD, ""))
    if not presented or not hmac.compare_digest(presented, session.csrf_token):
        raise PageRefused(
            403,
            "This form has expired",
            "The page was open too long or came from elsewhere. Reload it and try again.",
        )
    if not session.is_admin and request.path not in ANY_ROLE_CHANGES:
        raise PageRefused(
            403,
            "Viewers can't change anything",
            "You are signed in as a viewer: you can see everything, but only an admin of your team can"
            " connect, change settings, import or push. Ask an admin to do it, or to make you an admin.",
        )
    return await handler(request)
