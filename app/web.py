"""What every response shares: client address, headers, errors, access log."""

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from app import csrf
from app.keys import CLIENT_IP, CONFIG, SECURE, TENANTS

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
ERROR_TEXTS = {
    400: ("Ungültige Anfrage", "Die Anfrage konnte nicht verarbeitet werden."),
    403: ("Zugriff verweigert", "Sie haben keinen Zugriff auf diese Seite."),
    404: ("Seite nicht gefunden", "Diese Seite gibt es nicht oder nicht mehr."),
    405: ("Nicht erlaubt", "Diese Aktion ist hier nicht möglich."),
    410: ("Formular nicht mehr verfügbar", "Dieses Formular ist nicht mehr online."),
    413: ("Zu groß", "Die gesendeten Daten sind zu groß."),
    429: (
        "Zu viele Anfragen",
        "Sie haben zu viele Anfragen gesendet. Bitte warten Sie eine Minute "
        "und versuchen Sie es dann erneut.",
    ),
    500: (
        "Ein Fehler ist aufgetreten",
        "Das hat leider nicht geklappt. Ihre Angaben wurden nicht gespeichert. "
        "Bitte versuchen Sie es später erneut.",
    ),
}


class PageError(web.HTTPException):
    """An error shown to a person as a page with its own German message."""

    def __init__(
        self, status: int, message: str | None = None, title: str | None = None
    ) -> None:
        self.status_code = status
        super().__init__()
        default_title, default_message = ERROR_TEXTS.get(status, ERROR_TEXTS[500])
        self.page_title = title or default_title
        self.page_message = message or default_message


def render(
    request: web.Request, name: str, context: dict, status: int = 200, tenant=None
) -> web.Response:
    """Render a template, preferring the tenant's own copy of it."""
    env = aiohttp_jinja2.get_env(request.app)
    names = [name]
    if tenant is not None:
        names.insert(0, f"tenant/{tenant.slug}/templates/{name}")
        context.setdefault("theme_css_url", f"/static/tenant/{tenant.slug}/theme.css")
    context.setdefault("tenant", tenant)
    context.setdefault("theme_css_url", None)
    text = env.get_or_select_template(names).render(context)
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8"
    )


def keep_csrf_cookie(
    request: web.Request, response: web.StreamResponse, cookie: str
) -> None:
    """Give the browser the form-token cookie, unless it already has this one."""
    if request.cookies.get(csrf.COOKIE) != cookie:
        response.set_cookie(
            csrf.COOKIE,
            cookie,
            httponly=True,
            samesite="Strict",
            secure=is_secure(request),
            path="/",
        )


def client_address(request: web.Request) -> str:
    """Return the client's address, trusting forwarding only from our proxies."""
    return request.get(CLIENT_IP) or request.remote or ""


def is_secure(request: web.Request) -> bool:
    """Say whether the client reached us over TLS, directly or via our proxy."""
    return bool(request.get(SECURE))


@web.middleware
async def forwarded_middleware(request: web.Request, handler: Handler):
    """Take X-Forwarded-For and -Proto only from the configured proxies."""
    proxies = request.app[CONFIG].trusted_proxies
    peer = request.remote or ""
    request[CLIENT_IP], request[SECURE] = peer, request.secure
    if proxies and _in(peer, proxies):
        hops = [
            h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")
        ]
        for hop in reversed([h for h in hops if h]):
            request[CLIENT_IP] = hop
            if not _in(hop, proxies):
                break
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
        request[SECURE] = proto == "https" or request.secure
    return await handler(request)


def _in(address: str, networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler):
    """Turn every error into a page a person can act on (or JSON for the API)."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status_code < 400:
            raise
        return error_response(request, error)
    except Exception:
        log.error("Unhandled error on %s", _route(request), exc_info=True)
        return error_response(request, PageError(500))


def error_response(request: web.Request, error: web.HTTPException) -> web.Response:
    """Render an error as a themed page, a plain admin page or JSON."""
    status = error.status_code
    title = getattr(error, "page_title", None) or ERROR_TEXTS.get(status, ("",))[0]
    message = (
        getattr(error, "page_message", None)
        or ERROR_TEXTS.get(status, ERROR_TEXTS[500])[1]
    )
    path = request.path
    if path.startswith("/api/"):
        body = {"type": "about:blank", "title": title, "status": status}
        response = web.json_response(
            body, status=status, content_type="application/problem+json"
        )
    else:
        template = (
            "admin/error.html" if path.startswith("/admin") else "portal/error.html"
        )
        first = path.strip("/").split("/")[0]
        tenant = (
            request.app[TENANTS].get(first) if template.startswith("portal") else None
        )
        context = {
            "status": status,
            "title": title,
            "message": message,
            "page_title": title,
            "clerk": None,
            "csrf_token": "",
        }
        response = render(request, template, context, status=status, tenant=tenant)
    if status == 405 and "Allow" in error.headers:
        response.headers["Allow"] = error.headers["Allow"]
    return response


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set the security headers on every response, errors included."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    # A secure link's pages never tell another site where they were.
    referrer = "no-referrer" if request.path.startswith("/l/") else "same-origin"
    headers.setdefault("Referrer-Policy", referrer)
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
    if request.get(SECURE):
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"


def _route(request: web.BaseRequest) -> str:
    match = getattr(request, "match_info", None)
    route = getattr(match, "route", None)
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "-"


class AccessLogger(AbstractAccessLogger):
    """Log route, status, size and duration: never paths, queries or addresses."""

    def log(
        self, request: web.BaseRequest, response: web.StreamResponse, duration: float
    ) -> None:
        self.logger.info(
            "%s %s %s %s %.1fms",
            request.method,
            _route(request),
            response.status,
            response.body_length,
            duration * 1000,
        )


def monotonic_ms(start: float) -> float:
    """Return milliseconds since a time.monotonic() reading."""
    return (time.monotonic() - start) * 1000
