"""What every response shares: client address, headers, errors, access log."""

import dataclasses
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from app import csrf
from app.keys import CLIENT_IP, CONFIG, PORTAL, SECURE, TENANTS

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
ERROR_TEXTS = {
    408: (
        "Zeitüberschreitung",
        "Die Übertragung hat zu lange gedauert. Ihre Angaben wurden nicht "
        "gespeichert. Bitte versuchen Sie es erneut.",
    ),
    400: ("Ungültige Anfrage", "Die Anfrage konnte nicht verarbeitet werden."),
    401: (
        "Anmeldung erforderlich",
        "Senden Sie einen gültigen API-Schlüssel im Authorization-Header.",
    ),
    403: ("Zugriff verweigert", "Sie haben keinen Zugriff auf diese Seite."),
    404: ("Seite nicht gefunden", "Diese Seite gibt es nicht oder nicht mehr."),
    405: ("Nicht erlaubt", "Diese Aktion ist hier nicht möglich."),
    410: ("Formular nicht mehr verfügbar", "Dieses Formular ist nicht mehr online."),
    413: ("Zu groß", "Die gesendeten Daten sind zu groß."),
    415: ("Falsches Format", "Dieses Format wird hier nicht angenommen."),
    422: ("Ungültige Angaben", "Einige Angaben sind nicht gültig."),
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


MAX_PROBLEMS = 50


def _capped(errors: list[dict]) -> list[dict]:
    """Keep an answer small: the first problems, then how many more there are."""
    if len(errors) <= MAX_PROBLEMS:
        return errors
    more = len(errors) - MAX_PROBLEMS
    rest = {"field": "body", "message": f"… und {more} weitere Fehler."}
    return [*errors[:MAX_PROBLEMS], rest]


class Problem(PageError):
    """An API error: a problem document (RFC 9457) naming each wrong field."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, message)
        self.errors = _capped(errors or [])
        self.headers.update(headers or {})


def render(
    request: web.Request,
    name: str,
    context: dict,
    status: int = 200,
    tenant=None,
    theme=None,
) -> web.Response:
    """Render a template, preferring the tenant's own copy of it.

    A tenant's page is framed in the design the portal was last given, or in
    `theme` where a clerk previews an unsaved one.
    """
    env = aiohttp_jinja2.get_env(request.app)
    names = [name]
    if tenant is not None:
        tenant = framed(request, tenant, theme)
        names.insert(0, f"tenant/{tenant.slug}/templates/{name}")
        context.setdefault(
            "theme_css_url",
            f"/static/tenant/{tenant.slug}/theme.css?v={tenant.theme.version}",
        )
    context.setdefault("tenant", tenant)
    context.setdefault("theme_css_url", None)
    text = env.get_or_select_template(names).render(context)
    return web.Response(
        text=text, status=status, content_type="text/html", charset="utf-8"
    )


def framed(request: web.Request, tenant, theme=None):
    """Return the tenant in `theme`, or in the design the portal holds for it."""
    if theme is not None:
        return dataclasses.replace(tenant, theme=theme)
    portal = request.app.get(PORTAL)
    return tenant if portal is None else portal.framed(tenant)


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


def throttle_key(request: web.Request) -> str:
    """Return the key a client is throttled by: its address, IPv6 by /64."""
    address = client_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        # One household or host gets a whole /64; count it as one client.
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def is_secure(request: web.Request) -> bool:
    """Say whether the client reached us over TLS, directly or via our proxy."""
    return bool(request.get(SECURE))


def browser_cookie(request: web.Request) -> str:
    """Return the browser's CSRF cookie value, or a fresh one to set."""
    return request.cookies.get(csrf.COOKIE) or csrf.new_cookie_value()


def _header_values(request: web.Request, name: str) -> list[str]:
    """Return a header's comma-separated values over all its lines, in order."""
    return [
        value.strip()
        for line in request.headers.getall(name, [])
        for value in line.split(",")
        if value.strip()
    ]


@web.middleware
async def forwarded_middleware(request: web.Request, handler: Handler):
    """Take X-Forwarded-For and -Proto only from the configured proxies."""
    proxies = request.app[CONFIG].trusted_proxies
    peer = request.remote or ""
    request[CLIENT_IP], request[SECURE] = peer, request.secure
    if proxies and _in(peer, proxies):
        # Walk from the right: each hop was appended by the one before it,
        # and the first address that is not our proxy is the client.
        hops = _header_values(request, "X-Forwarded-For")
        for hop in reversed(hops):
            request[CLIENT_IP] = hop
            if not _in(hop, proxies):
                break
        protos = _header_values(request, "X-Forwarded-Proto")
        if protos:
            request[SECURE] = protos[-1] == "https" or request.secure
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
        body = {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": message,
            "errors": getattr(error, "errors", []),
        }
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
    for header in ("Allow", "WWW-Authenticate"):
        if header in error.headers:
            response.headers[header] = error.headers[header]
    return response


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set the security headers on every response, errors included."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.pop("Server", None)
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
    try:
        match = request.match_info
    except (AttributeError, AssertionError):
        # A request refused by the HTTP parser was never routed.
        return "-"
    route = getattr(match, "route", None)
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "-"


class ProtocolErrorFilter(logging.Filter):
    """Shorten aiohttp's report of a request its parser refused.

    aiohttp logs such a request with the client's address and the raw bytes
    it could not read, which may be a header full of personal data; what
    stays is that a request was refused.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = "Refused a request the HTTP parser could not read", ()
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


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
            response.content_length or response.body_length,
            duration * 1000,
        )


def monotonic_ms(start: float) -> float:
    """Return milliseconds since a time.monotonic() reading."""
    return (time.monotonic() - start) * 1000
