"""Handlers of the portal side: start pages, forms, sends and tenant assets."""

import asyncio
import logging
from datetime import timedelta

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from app import csrf
from app.clock import german
from app.config import ROOT
from app.forms.groups import order_errors
from app.forms.validation import validate
from app.keys import PORTAL, TENANTS
from app.portal.condition_views import conditions_url
from app.portal.group_views import changed_items
from app.portal.intake import (
    FRAMING_ALLOWANCE,
    Intake,
    Malformed,
    TooLarge,
    part_names,
)
from app.portal.service import Receipt, ServedForm
from app.tenants import Tenant
from app.throttle import Throttle
from app.web import (
    PageError,
    browser_cookie,
    keep_csrf_cookie,
    render,
    throttle_key,
)

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
    return request.app[PORTAL].framed(tenant)


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
    changed=False,
) -> web.Response:
    portal = request.app[PORTAL]
    token = csrf.issue(
        portal.csrf_secret, cookie, _purpose(tenant, form.slug), form.version
    )
    if values or errors or reselect:
        html = _render_form(
            request, tenant, form, CSRF_SLOT, values, errors, reselect, changed
        )
    else:
        html = _empty_form_html(request, tenant, form)
    response = web.Response(
        text=html.replace(CSRF_SLOT, token),
        status=status,
        content_type="text/html",
        charset="utf-8",
    )
    keep_csrf_cookie(request, response, cookie)
    return response


# The empty page of a published version never changes but for its form
# token, so it is rendered once with this slot where the token goes.
CSRF_SLOT = "MODPORTAL-FORM-TOKEN-SLOT"
EMPTY_FORMS: web.AppKey[dict] = web.AppKey("empty_forms", dict)


def _empty_form_html(request: web.Request, tenant: Tenant, form: ServedForm) -> str:
    cache = request.app[EMPTY_FORMS]
    # The frame is part of the page, so a new design renders it afresh.
    key = (tenant.slug, form.slug, form.version, tenant.theme.version)
    if key not in cache:
        cache[key] = _render_form(request, tenant, form, CSRF_SLOT, None, None, False)
    return cache[key]


def _render_form(
    request, tenant, form, token, values, errors, reselect, changed=False
) -> str:
    errors = errors or {}
    limit = request.app[PORTAL].config.uploads.max_submission_bytes
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
    if changed:
        context["items_changed"] = True
    return render(request, "portal/form.html", context, tenant=tenant).text


def _purpose(tenant: Tenant, slug: str) -> str:
    return f"form:{tenant.slug}:{slug}"


async def show_form(request: web.Request) -> web.Response:
    """Show a live form, empty, with a fresh form session."""
    tenant = _tenant(request)
    form = await request.app[PORTAL].live_form(tenant.slug, request.match_info["form"])
    if form is None:
        raise PageError(404)
    if form.steps:
        # Imported here: the step pages build on this module's helpers.
        from app.portal.step_views import show_first_step

        return await show_first_step(request, tenant, form)
    return _form_page(request, tenant, form, browser_cookie(request))


async def send_form(request: web.Request) -> web.Response:
    """Take a filled form: check it, seal it, store it whole, show the receipt."""
    tenant = _tenant(request)
    portal = request.app[PORTAL]
    _admit_send(request, tenant)

    reader = await request.multipart()
    claim = await read_csrf(
        request, reader, _purpose(tenant, request.match_info["form"])
    )
    grace = timedelta(minutes=portal.config.grace_minutes)
    slug = request.match_info["form"]
    form = await portal.served_form(tenant.slug, slug, claim.version, grace)
    if previous := await portal.previous_receipt(claim.nonce):
        return receipt_page(request, tenant, form, previous)
    if form is None:
        raise PageError(410, GONE)
    if form.steps:
        from app.portal.step_views import send_step

        return await send_step(request, tenant, form, reader)

    intake = portal.new_intake(form, request.content)
    await read_all(intake, reader)
    if changed := await changed_items(form.definition, intake):
        return _form_page(
            request, tenant, form, request.cookies[csrf.COOKIE], **changed
        )
    result = validate(form.definition, intake.values, intake.uploads())
    errors = in_page_order(form, {**result.errors, **intake.file_errors})
    if errors:
        return await _refuse_values(request, tenant, form, intake, errors)

    receipt = await portal.commit(intake, result.values, claim.nonce, tenant.receiver)
    return receipt_page(request, tenant, form, receipt)


def _admit_send(request: web.Request, tenant: Tenant) -> None:
    """Refuse a send before reading it: throttled, not a form, or too large."""
    if not request.app[SEND_THROTTLE].allow(throttle_key(request)):
        log.warning("Throttled sends from one client on %s", tenant.slug)
        raise PageError(429)
    if request.content_type != "multipart/form-data":
        raise PageError(400)
    refuse_declared_oversize(
        request, request.app[PORTAL].config.uploads.max_submission_bytes
    )


def refuse_declared_oversize(request: web.Request, ceiling: int) -> None:
    """Refuse a send whose declared length is over the ceiling before reading it."""
    if request.content_length is not None and request.content_length > ceiling:
        raise PageError(413, _too_large(ceiling))


async def _refuse_values(request, tenant, form, intake, errors) -> web.Response:
    """Delete what was sealed and show the form again with its errors."""
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


def _too_large(ceiling: int) -> str:
    return (
        "Ihre Angaben und Dateien sind zusammen zu groß. Erlaubt sind höchstens "
        f"{_megabytes(ceiling)} insgesamt; eine einzelne Datei darf nicht größer "
        "sein als bei ihrem Feld angegeben. Bitte wählen Sie kleinere Dateien."
    )


async def read_csrf(request: web.Request, reader, purpose: str) -> csrf.Claim:
    """Read the form token, the first part of a send, and check it."""
    portal = request.app[PORTAL]
    try:
        async with asyncio.timeout(portal.config.uploads.idle_timeout_s):
            part = await reader.next()
            if (
                not isinstance(part, BodyPartReader)
                or part_names(part)[0] != "csrf_token"
            ):
                raise PageError(403, EXPIRED, "Formular abgelaufen")
            token = (await part.read_chunk(1024)).decode("ascii", "replace")
    except TimeoutError as error:
        raise PageError(408) from error
    except (ValueError, HttpProcessingError) as error:
        log.warning("Refused a malformed send (%s)", type(error).__name__)
        raise PageError(400) from error
    ceiling = portal.config.uploads.max_submission_bytes
    if request.content.total_bytes > ceiling + FRAMING_ALLOWANCE:
        raise PageError(413, _too_large(ceiling))
    try:
        return csrf.verify(
            portal.csrf_secret,
            request.cookies.get(csrf.COOKIE),
            purpose,
            token,
            portal.config.form_session_hours * 3600,
        )
    except csrf.CsrfError as error:
        log.warning("Refused a send with a %s form token", error)
        raise PageError(403, EXPIRED, "Formular abgelaufen") from error


async def read_all(intake: Intake, reader) -> None:
    """Read the rest of a send; on any refusal its sealed parts are deleted."""
    try:
        async with asyncio.timeout(intake.limits.send_timeout_s):
            await intake.read(reader)
    except TooLarge as error:
        await intake.discard()
        log.warning("Refused an oversized send (%s)", error)
        raise PageError(413, _too_large(intake.limits.max_submission_bytes)) from error
    except TimeoutError as error:
        await intake.discard()
        log.warning("Refused a send whose client went quiet")
        raise PageError(408) from error
    except (Malformed, ValueError, HttpProcessingError) as error:
        await intake.discard()
        log.warning("Refused a malformed send (%s)", type(error).__name__)
        raise PageError(400) from error
    except BaseException:
        await intake.discard()
        raise


def in_page_order(form: ServedForm, errors: dict[str, str]) -> dict[str, str]:
    """Order error messages as their fields stand on the page."""
    return order_errors(form.definition, errors)


def receipt_page(
    request: web.Request,
    tenant: Tenant,
    form: ServedForm | None,
    receipt: Receipt,
    order: bool = False,
) -> web.Response:
    """Show the receipt number of a stored send; an order's result in its words."""
    context = {
        "form": {"title": form.title if form else ""},
        "receipt": receipt.number,
        "received_at": german(receipt.received_at),
        "order": order,
        "page_title": "Auftrag erledigt" if order else "Angaben gesendet",
    }
    return render(request, "portal/receipt.html", context, tenant=tenant)


async def theme_css(request: web.Request) -> web.Response:
    """Serve a tenant's colours as CSS custom properties."""
    theme = _tenant(request).theme
    response = theme_stylesheet(request, theme.colors, theme.layout)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def theme_stylesheet(request: web.Request, colors: dict, layout: str) -> web.Response:
    """Render colours and a header layout as the stylesheet portal.css reads."""
    response = render(request, "portal/theme.css", {"colors": colors, "layout": layout})
    response.content_type = "text/css"
    return response


async def logo(request: web.Request) -> web.Response:
    """Serve a tenant's current logo, a PNG the back office encoded afresh."""
    tenant = _tenant(request)
    data = request.app[PORTAL].logo(tenant.slug)
    if data is None:
        raise PageError(404)
    response = web.Response(body=data, content_type="image/png")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


STATIC_DIR = ROOT / "app" / "static"
# Only the files that ship are served, by exact name: no path to walk.
STATIC_FILES = {p.name: p for p in STATIC_DIR.iterdir() if p.is_file()}
STATIC_TYPES = {".css": "text/css", ".ico": "image/x-icon"}


async def static_file(request: web.Request) -> web.FileResponse:
    """Serve one of the stylesheets or the icon."""
    name = request.match_info.get("name", "favicon.ico")
    path = STATIC_FILES.get(name)
    if path is None:
        raise PageError(404)
    response = web.FileResponse(path)
    response.content_type = STATIC_TYPES.get(path.suffix, "application/octet-stream")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
