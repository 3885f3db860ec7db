"""Handlers of the built-in back office's pages."""

import json
import logging
import re
import unicodedata

from aiohttp import web

from app import crypto, csrf
from app.backoffice import auth
from app.backoffice.record_groups import show_items
from app.clock import german, iso, utcnow
from app.keys import BACKOFFICE, CLERK, TENANTS
from app.throttle import Throttle
from app.web import (
    PageError,
    browser_cookie,
    keep_csrf_cookie,
    render,
    throttle_key,
)

log = logging.getLogger(__name__)

LOGIN_THROTTLE: web.AppKey[Throttle] = web.AppKey("login_throttle")
NAME_THROTTLE: web.AppKey[Throttle] = web.AppKey("name_throttle")
# Failed logins one name may take per window, from every address together.
NAME_FAILURES_PER_WINDOW = 20
STATUSES = (
    ("new", "Neu"),
    ("in_progress", "In Bearbeitung"),
    ("waiting", "Wartet auf Rückmeldung"),
    ("done", "Erledigt"),
)
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
    secret = request.app[BACKOFFICE].form_secret
    cookie = browser_cookie(request)
    context["csrf_token"] = csrf.issue(secret, cookie, purpose)
    context.setdefault("clerk", None)
    response = render(request, name, context, status=status)
    keep_csrf_cookie(request, response, cookie)
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
    # Every attempt counts against the address; only failures against the
    # name, so that a stranger's wrong guesses lock a clerk out less easily.
    by_address, by_name = request.app[LOGIN_THROTTLE], request.app[NAME_THROTTLE]
    name_key = name.casefold()
    if not by_address.allow(throttle_key(request)) or by_name.exceeded(name_key):
        log.warning("Throttled logins")
        raise PageError(429)

    found = await request.app[BACKOFFICE].store.password_hash(name)
    valid = await auth.check_password(password, found[1] if found else _DUMMY_HASH)
    if not (found and valid):
        by_name.hit(name_key)
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


async def _check_setup_token(request: web.Request) -> None:
    """Refuse the setup address unless its token is right and no clerk exists."""
    backoffice = request.app[BACKOFFICE]
    expected = backoffice.setup_token_hash
    given = crypto.token_hash(request.match_info["token"])
    if expected is None or not crypto.constant_time_equal(expected, given):
        raise PageError(404)
    if await backoffice.store.clerk_count():
        # A clerk made meanwhile (add-clerk) ends the address for good.
        backoffice.setup_token_hash = None
        raise PageError(404)


async def setup_page(request: web.Request) -> web.Response:
    """Show the one-time form for the first clerk."""
    await _check_setup_token(request)
    context = {
        "error": None,
        "action": request.path,
        "page_title": "Ersten Zugang einrichten",
    }
    return _anonymous_form(request, "admin/setup.html", SETUP_PURPOSE, context)


async def setup(request: web.Request) -> web.Response:
    """Create the first clerk, once, and log it in."""
    await _check_setup_token(request)
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
    password_hash = await auth.hash_password(password)
    if not await backoffice.store.add_first_clerk(name, password_hash, iso(utcnow())):
        raise PageError(404)
    backoffice.setup_token_hash = None
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
        "records": [
            _record_summary(request, row)
            | {"return_at": german(row["return_at"]) if row["return_at"] else ""}
            for row in rows
        ],
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
    summary["confirmation_note"] = row["confirmation_note"]
    summary["intake_note"] = row["intake_note"]
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
    show_items(summary, definition)
    message = "Status gespeichert." if request.query.get("saved") else None
    # Imported here because link_views builds on this module.
    from app.backoffice.link_views import record_links

    summary.update(await record_links(request, row, definition))
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
    choices = {f.name: dict(f.choices) for f in definition.fields} if definition else {}
    return [
        {
            "name": n,
            "label": _label(definition, catalog, n),
            "value": _shown(values[n], choices.get(n, {})),
        }
        for n in names
    ]


def _shown(value: str, choices: dict[str, str]) -> str:
    """Show a choice's code as it lands in MODWORK, with what the customer saw."""
    if isinstance(value, list):
        return value  # a repeated group's items; see record_groups
    return f"{value} ({choices[value]})" if value in choices else value


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


UMLAUTS = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
)
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}


def _disposition(filename: str, content_type: str) -> str:
    """Build an attachment header whose name cannot break out or mislead."""
    base = filename.rsplit(".", 1)[0].translate(UMLAUTS)
    ascii_base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    stem = SAFE_NAME.sub("_", ascii_base).strip("._")[:80] or "datei"
    return f'attachment; filename="{stem}{EXTENSIONS.get(content_type, ".bin")}"'
