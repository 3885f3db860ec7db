"""Handlers of the portal side: start pages, forms, sends and tenant assets."""

import logging
from datetime import timedelta

from aiohttp import web

from app import csrf
from app.clock import german
from app.forms.validation import validate
from app.keys import PORTAL, TENANTS
from app.portal.condition_views import conditions_url
from app.portal.intake import Intake, Malformed, TooLarge
from app.portal.service import Receipt, ServedForm
from app.tenants import Tenant
from app.throttle import Throttle
from app.web import PageError, client_address, is_secure, render

log = logging.getLogger(__name__)

SEND_THROTTLE: web.AppKey[Throttle] = web.AppKey("send_throttle")
EXPIRED = (
    "Das Formular ist abgelaufen oder unvollständig angekommen. Bitte laden Sie "
    "die Seite neu und senden Sie es erneut."
)


# After the grace period a late send meets this page: it says what became of
# the answers and where to go on.
GONE = (
    "Dieses Formular ist nicht mehr online, deshalb konnten wir Ihre Angaben "
    "nicht annehmen; gespeichert wurde nichts. Die Formulare, die es jetzt "
    "gibt, finden Sie auf der Startseite."
)


def _tenant(request: web.Request) -> Tenant:
    tenant = request.app[TENANTS].get(request.match_info["tenant"])
    if tenant is None:
        raise PageError(404)
    return tenant


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


async def home(request: web.Request) -> web.Response:
    """List the tenants' portals."""
    tenants = [
        {"slug": t.slug, "name": t.name, "url": f"/{t.slug}/"}
        for t in request.app[TENANTS].values()
    ]
    return render(
        request, "portal/home.html", {"tenants": tenants, "page_title": "Portale"}
    )


async def tenant_index(request: web.Request) -> web.Response:
    """Show a tenant's start page with every form that is live now."""
    tenant = _tenant(request)
    forms = await request.app[PORTAL].live_forms(tenant.slug)
    listed = [
        {
            "slug": f.slug,
            "title": f.title,
            "intro": f.intro,
            "url": f"/{tenant.slug}/{f.slug}",
        }
        for f in sorted(forms, key=lambda f: f.title)
    ]
    context = {"forms": listed, "page_title": tenant.short_name}
    return render(request, "portal/index.html", context, tenant=tenant)


async def tenant_redirect(request: web.Request) -> web.Response:
    """Send /<tenant> on to /<tenant>/."""
    raise web.HTTPPermanentRedirect(f"/{_tenant(request).slug}/")


def _form_page(
    request: web.Request,
    tenant: Tenant,
    form: ServedForm,
    cookie: str,
    *,
    values=None,
    errors=None,
    reselect=False,
    status: int = 200,
) -> web.Response:
    portal = request.app[PORTAL]
    errors = errors or {}
    token = csrf.issue(
        portal.csrf_secret, cookie, _purpose(tenant, form.slug), form.version
    )
    limit = portal.config.uploads.max_submission_bytes
    if form.max_submission_bytes:
        limit = min(limit, form.max_submission_bytes)
    context = {
        "form": form,
        "values": values or {},
        "errors": list(errors.items()),
        "error_map": errors,
        "csrf_token": token,
        "action": f"/{tenant.slug}/{form.slug}",
        "reselect_files": reselect,
        "max_upload_label": _megabytes(limit),
        "privacy_url": tenant.theme.privacy_url,
        "conditions_url": conditions_url(tenant.slug, form),
        "page_title": form.title,
    }
    response = render(
        request, "portal/form.html", context, status=status, tenant=tenant
    )
    if request.cookies.get(csrf.COOKIE) != cookie:
        response.set_cookie(
            csrf.COOKIE,
            cookie,
            httponly=True,
            samesite="Strict",
            secure=is_secure(request),
            path="/",
        )
    return response


def _purpose(tenant: Tenant, slug: str) -> str:
    return f"form:{tenant.slug}:{slug}"


async def show_form(request: web.Request) -> web.Response:
    """Show a live form, empty, with a fresh form session."""
    tenant = _tenant(request)
    form = await request.app[PORTAL].live_form(tenant.slug, request.match_info["form"])
    if form is None:
        raise PageError(404)
    cookie = request.cookies.get(csrf.COOKIE) or csrf.new_cookie_value()
    return _form_page(request, tenant, form, cookie)


async def send_form(request: web.Request) -> web.Response:
    """Take a filled form: check it, seal it, store it whole, show the receipt."""
    tenant = _tenant(request)
    portal = request.app[PORTAL]
    if not request.app[SEND_THROTTLE].allow(client_address(request)):
        log.warning("Throttled sends from one client on %s", tenant.slug)
        raise PageError(429)
    _refuse_declared_oversize(request, portal.config.uploads.max_submission_bytes)

    if request.content_type != "multipart/form-data":
        raise PageError(400)
    reader = await request.multipart()
    claim = await _read_csrf(request, reader, tenant)
    grace = timedelta(minutes=portal.config.grace_minutes)
    form = await portal.served_form(
        tenant.slug, request.match_info["form"], claim.version, grace
    )
    if previous := await portal.previous_receipt(claim.nonce):
        return _receipt_page(request, tenant, form, previous)
    if form is None:
        raise PageError(410, GONE)

    intake = portal.new_intake(form)
    await _read_all(intake, reader)
    result = validate(form.definition, intake.values, intake.uploads())
    errors = _in_page_order(form, {**result.errors, **intake.file_errors})
    if errors:
        await intake.discard()
        log.warning(
            "Refused a send of %s/%s: %s fields", tenant.slug, form.slug, len(errors)
        )
        return _form_page(
            request,
            tenant,
            form,
            request.cookies[csrf.COOKIE],
            values=intake.values,
            errors=errors,
            reselect=intake.chosen_files,
            status=422,
        )

    receipt = await portal.commit(intake, result.values, claim.nonce, tenant.receiver)
    return _receipt_page(request, tenant, form, receipt)


def _refuse_declared_oversize(request: web.Request, ceiling: int) -> None:
    if request.content_length is not None and request.content_length > ceiling:
        raise PageError(413, _too_large(ceiling))


def _too_large(ceiling: int) -> str:
    return (
        "Ihre Angaben und Dateien sind zusammen zu groß. Erlaubt sind höchstens "
        f"{_megabytes(ceiling)} insgesamt; eine einzelne Datei darf nicht größer "
        "sein als bei ihrem Feld angegeben. Bitte wählen Sie kleinere Dateien."
    )


async def _read_csrf(request: web.Request, reader, tenant: Tenant) -> csrf.Claim:
    part = await reader.next()
    if part is None or getattr(part, "name", None) != "csrf_token":
        raise PageError(403, EXPIRED, "Formular abgelaufen")
    token = (await part.read_chunk(1024)).decode("ascii", "replace")
    portal = request.app[PORTAL]
    try:
        return csrf.verify(
            portal.csrf_secret,
            request.cookies.get(csrf.COOKIE),
            _purpose(tenant, request.match_info["form"]),
            token,
            portal.config.form_session_hours * 3600,
        )
    except csrf.CsrfError as error:
        log.warning("Refused a send with a %s form token", error)
        raise PageError(403, EXPIRED, "Formular abgelaufen") from error


async def _read_all(intake: Intake, reader) -> None:
    try:
        await intake.read(reader)
    except TooLarge as error:
        await intake.discard()
        log.warning("Refused an oversized send (%s)", error)
        raise PageError(413, _too_large(intake.limits.max_submission_bytes)) from error
    except Malformed as error:
        await intake.discard()
        log.warning("Refused a malformed send (%s)", error)
        raise PageError(400) from error
    except BaseException:
        await intake.discard()
        raise


def _in_page_order(form: ServedForm, errors: dict[str, str]) -> dict[str, str]:
    return {f.name: errors[f.name] for f in form.fields if f.name in errors}


def _receipt_page(
    request: web.Request, tenant: Tenant, form: ServedForm | None, receipt: Receipt
) -> web.Response:
    context = {
        "form": {"title": form.title if form else ""},
        "receipt": receipt.number,
        "received_at": german(receipt.received_at),
        "page_title": "Angaben gesendet",
    }
    return render(request, "portal/receipt.html", context, tenant=tenant)


async def theme_css(request: web.Request) -> web.Response:
    """Serve a tenant's colours as CSS custom properties."""
    tenant = _tenant(request)
    env_context = {"colors": tenant.theme.colors, "layout": tenant.theme.layout}
    response = render(request, "portal/theme.css", env_context)
    response.content_type = "text/css"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


async def logo(request: web.Request) -> web.FileResponse:
    """Serve a tenant's logo."""
    tenant = _tenant(request)
    if tenant.theme.logo_path is None:
        raise PageError(404)
    response = web.FileResponse(tenant.theme.logo_path)
    response.headers["Cache-Control"] = "public, max-age=300"
    response.content_type = "image/png"
    return response
