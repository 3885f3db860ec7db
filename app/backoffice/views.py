"""Handlers of the built-in back office's pages."""

import json
import logging
import re

from aiohttp import web

from app import crypto, csrf
from app.backoffice import auth
from app.clock import german, iso, utcnow
from app.keys import BACKOFFICE, CLERK, TENANTS
from app.throttle import Throttle
from app.web import PageError, client_address, is_secure, render

log = logging.getLogger(__name__)

LOGIN_THROTTLE: web.AppKey[Throttle] = web.AppKey("login_throttle")
STATUSES = (("new", "Neu"), ("in_progress", "In Bearbeitung"), ("done", "Erledigt"))
STATUS_LABELS = dict(STATUSES)
LOGIN_PURPOSE = "admin-login"
SETUP_PURPOSE = "admin-setup"
# A hash to check against when the name is unknown, so both take as long.
_DUMMY_HASH = auth.hash_password_sync("no clerk has this password")
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _page(request: web.Request, name: str, context: dict, status: int = 200):
    clerk = request.get(CLERK)
    token = request.cookies.get(auth.SESSION_COOKIE, "")
    context.setdefault("clerk", clerk)
    context.setdefault("csrf_token", auth.session_csrf(token) if clerk else "")
    return render(request, name, context, status=status)


def _anonymous_form(request, name, purpose, context, status=200):
    """Render a page whose form is sent before any session exists."""
    portal_secret = request.app[BACKOFFICE].form_secret
    cookie = request.cookies.get(csrf.COOKIE) or csrf.new_cookie_value()
    context["csrf_token"] = csrf.issue(portal_secret, cookie, purpose)
    context.setdefault("clerk", None)
    response = render(request, name, context, status=status)
    response.set_cookie(
        csrf.COOKIE,
        cookie,
        httponly=True,
        samesite="Strict",
        secure=is_secure(request),
        path="/",
    )
    return response


def _check_anonymous_csrf(request, purpose: str, token: str) -> None:
    try:
        csrf.verify(
            request.app[BACKOFFICE].form_secret,
            request.cookies.get(csrf.COOKIE),
            purpose,
            token,
            3600,
        )
    except csrf.CsrfError as error:
        log.warning("Refused an admin form with a %s token", error)
        raise PageError(
            403, "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu."
        ) from error


async def admin_home(request: web.Request) -> web.Response:
    """Send clerks to the records."""
    raise web.HTTPSeeOther("/admin/records")


async def login_page(request: web.Request) -> web.Response:
    """Show the login form."""
    context = {"error": None, "name": "", "page_title": "Anmelden"}
    return _anonymous_form(request, "admin/login.html", LOGIN_PURPOSE, context)


async def login(request: web.Request) -> web.Response:
    """Check a clerk's name and password and start a session."""
    form = await request.post()
    _check_anonymous_csrf(request, LOGIN_PURPOSE, str(form.get("csrf_token", "")))
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    throttle = request.app[LOGIN_THROTTLE]
    if not (
        throttle.allow(f"ip:{client_address(request)}")
        and throttle.allow(f"name:{name.lower()}")
    ):
        log.warning("Throttled logins")
        raise PageError(429)

    found = await request.app[BACKOFFICE].store.password_hash(name)
    valid = await auth.check_password(password, found[1] if found else _DUMMY_HASH)
    if not (found and valid):
        log.warning("Refused a login")
        context = {
            "error": "Name oder Passwort ist falsch.",
            "name": name,
            "page_title": "Fehler: Anmelden",
        }
        return _anonymous_form(
            request, "admin/login.html", LOGIN_PURPOSE, context, status=401
        )
    response = web.HTTPSeeOther("/admin/records")
    await auth.start_session(request, response, found[0])
    log.info("Clerk %s logged in", found[0].id)
    raise response


async def logout(request: web.Request) -> web.Response:
    """End the session on the server."""
    await auth.require_clerk(request)
    form = await request.post()
    auth.check_csrf(request, str(form.get("csrf_token", "")))
    response = web.HTTPSeeOther("/admin/login")
    await auth.end_session(request, response)
    raise response


def _setup_token_valid(request: web.Request) -> bool:
    expected = request.app[BACKOFFICE].setup_token_hash
    given = crypto.token_hash(request.match_info["token"])
    return expected is not None and crypto.constant_time_equal(expected, given)


async def setup_page(request: web.Request) -> web.Response:
    """Show the one-time form for the first clerk."""
    if not _setup_token_valid(request):
        raise PageError(404)
    context = {
        "error": None,
        "action": request.path,
        "page_title": "Ersten Zugang einrichten",
    }
    return _anonymous_form(request, "admin/setup.html", SETUP_PURPOSE, context)


async def setup(request: web.Request) -> web.Response:
    """Create the first clerk, once, and log it in."""
    if not _setup_token_valid(request):
        raise PageError(404)
    form = await request.post()
    _check_anonymous_csrf(request, SETUP_PURPOSE, str(form.get("csrf_token", "")))
    name = str(form.get("name", "")).strip()
    password = str(form.get("password", ""))
    problem = (
        "Geben Sie einen Namen an."
        if not name
        else auth.password_problem(password, str(form.get("repeat", "")))
    )
    if problem:
        context = {
            "error": problem,
            "action": request.path,
            "page_title": "Fehler: Ersten Zugang einrichten",
        }
        return _anonymous_form(
            request, "admin/setup.html", SETUP_PURPOSE, context, status=422
        )
    backoffice = request.app[BACKOFFICE]
    backoffice.setup_token_hash = None
    await backoffice.store.save_clerk(
        name, await auth.hash_password(password), None, iso(utcnow())
    )
    found = await backoffice.store.password_hash(name)
    response = web.HTTPSeeOther("/admin/records")
    await auth.start_session(request, response, found[0])
    log.info("First clerk created")
    raise response


def _record_summary(request: web.Request, row) -> dict:
    tenants = request.app[TENANTS]
    catalog = request.app[BACKOFFICE].catalog
    record_type = catalog.record_types.get(row["record_type"])
    tenant = tenants.get(row["tenant"])
    return {
        "id": row["id"],
        "url": f"/admin/records/{row['id']}",
        "tenant": row["tenant"],
        "tenant_name": tenant.name if tenant else row["tenant"],
        "record_type_label": record_type.label if record_type else row["record_type"],
        "form_title": row["form_title"],
        "form_version": row["form_version"],
        "receipt": row["receipt"],
        "received_at": german(row["received_at"]),
        "status": row["status"],
        "status_label": STATUS_LABELS.get(row["status"], row["status"]),
        "test": bool(row["test"]),
    }


async def records(request: web.Request) -> web.Response:
    """List the clerk's records, newest first, by receipt number or status."""
    clerk = await auth.require_clerk(request)
    q = request.query.get("q", "").strip().upper()
    status = request.query.get("status", "")
    if status not in STATUS_LABELS:
        status = ""
    tests = request.query.get("tests") == "1"
    rows = await request.app[BACKOFFICE].store.records(
        clerk.tenants, q, status, tests=tests
    )
    context = {
        "records": [_record_summary(request, row) for row in rows],
        "tests": tests,
        "q": q,
        "status_filter": status,
        "statuses": STATUSES,
        "page_title": "Belege",
    }
    return _page(request, "admin/records.html", context)


async def _clerks_record(request: web.Request):
    clerk = await auth.require_clerk(request)
    try:
        record_id = int(request.match_info["id"])
    except ValueError as error:
        raise PageError(404) from error
    row = await request.app[BACKOFFICE].store.record(record_id)
    if row is None or not clerk.may_see(row["tenant"]):
        raise PageError(404)
    return row


async def record(request: web.Request) -> web.Response:
    """Show one record: every value under its MODWORK field, and attachments."""
    row = await _clerks_record(request)
    backoffice = request.app[BACKOFFICE]
    definition = await backoffice.definition(
        row["tenant"], row["form_slug"], row["form_version"]
    )
    summary = _record_summary(request, row)
    summary["values"] = _labelled_values(
        definition, backoffice.catalog, json.loads(row["field_values"])
    )
    summary["attachments"] = [
        {
            "id": a["id"],
            "field": a["field"],
            "label": _label(definition, backoffice.catalog, a["field"]),
            "filename": a["filename"],
            "size_label": f"{a['size'] / 1000:.0f} kB",
            "content_type": a["content_type"],
            "url": f"/admin/records/{row['id']}/attachments/{a['id']}",
        }
        for a in await backoffice.store.attachments(row["id"])
    ]
    message = "Status gespeichert." if request.query.get("saved") else None
    context = {
        "record": summary,
        "statuses": STATUSES,
        "message": message,
        "page_title": f"Beleg {row['receipt']}",
    }
    return _page(request, "admin/record.html", context)


def _label(definition, catalog, name: str) -> str:
    labels = {f.name: f.label for f in definition.fields} if definition else {}
    if name in labels:
        return labels[name]
    known = catalog.fields.get(name)
    return known.label if known else name


def _labelled_values(definition, catalog, values: dict[str, str]) -> list[dict]:
    order = [f.name for f in definition.fields] if definition else []
    names = [n for n in order if n in values] + sorted(set(values) - set(order))
    return [
        {"name": n, "label": _label(definition, catalog, n), "value": values[n]}
        for n in names
    ]


async def set_status(request: web.Request) -> web.Response:
    """Change a record's status."""
    row = await _clerks_record(request)
    form = await request.post()
    auth.check_csrf(request, str(form.get("csrf_token", "")))
    status = str(form.get("status", ""))
    if status not in STATUS_LABELS:
        raise PageError(400, "Diesen Status gibt es nicht.")
    await request.app[BACKOFFICE].store.set_status(row["id"], status)
    raise web.HTTPSeeOther(f"/admin/records/{row['id']}?saved=1")


async def attachment(request: web.Request) -> web.FileResponse:
    """Send an attachment as a download with a safe file name."""
    row = await _clerks_record(request)
    backoffice = request.app[BACKOFFICE]
    found = [
        a
        for a in await backoffice.store.attachments(row["id"])
        if a["id"] == request.match_info["attachment"]
    ]
    if not found:
        raise PageError(404)
    meta = found[0]
    response = web.FileResponse(backoffice.attachment_path(meta["id"]))
    response.content_type = meta["content_type"]
    response.headers["Content-Disposition"] = _disposition(
        meta["filename"], meta["content_type"]
    )
    return response


EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}


def _disposition(filename: str, content_type: str) -> str:
    """Build an attachment header whose name cannot break out or mislead."""
    stem = SAFE_NAME.sub("_", filename.rsplit(".", 1)[0]).strip("._")[:80] or "datei"
    return f'attachment; filename="{stem}{EXTENSIONS.get(content_type, ".bin")}"'
