"""A draft inside its tenant's frame, for clerks only, with test submissions.

The preview lives under /admin, so only a clerk's session opens it and the
portal never serves a draft. A test send takes the portal's own path: read
as it streams, checked against the previewed version, sealed and stored;
it goes to the built-in back office only, marked as a test, and never to
MODWORK.
"""

import logging
import secrets

from aiohttp import web

from app.backoffice import auth
from app.backoffice.form_views import clerks_form, form_url
from app.backoffice.forms import FORMS
from app.backoffice.service import RECEIVER
from app.clock import german
from app.forms.conditions import has_conditions
from app.forms.definition import FormDefinition
from app.forms.groups import order_errors
from app.forms.validation import validate
from app.keys import CLERK, PORTAL, TENANTS
from app.portal.condition_views import css_response
from app.portal.group_views import changed_items
from app.portal.intake import Malformed, TooLarge
from app.portal.service import ServedForm
from app.storage.forms import FormRow
from app.web import PageError, render

log = logging.getLogger(__name__)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


async def _previewed(request: web.Request, number: int | None):
    form = await clerks_form(request)
    if form.deleted_at is not None:
        raise PageError(404)
    number = number or form.last_version
    definition = await request.app[FORMS].version(form, number)
    if definition is None:
        raise PageError(404)
    return form, ServedForm(definition, number, None)


def _form_page(
    request: web.Request,
    form: FormRow,
    served: ServedForm,
    values=None,
    errors=None,
    reselect=False,
    status: int = 200,
) -> web.Response:
    tenant = request.app[PORTAL].framed(request.app[TENANTS][form.tenant])
    errors = errors or {}
    ceiling = request.app[PORTAL].config.uploads.max_submission_bytes
    context = {
        "form": served,
        "values": values or {},
        "errors": list(errors.items()),
        "error_map": errors,
        # The first part of the send is the session's token, as on every
        # clerk's form; the portal's form cookie plays no part here.
        "csrf_token": auth.session_csrf(request.cookies.get(auth.SESSION_COOKIE, "")),
        "action": form_url(form, f"/preview/{served.version}"),
        "reselect_files": reselect,
        "max_upload_label": _megabytes(served.submission_limit(ceiling)),
        "privacy_url": tenant.theme.privacy_url,
        "conditions_url": (
            form_url(form, f"/preview/{served.version}/conditions.css")
            if has_conditions(served.definition)
            else None
        ),
        "preview": {"admin_url": form_url(form), "version": served.version},
        "page_title": f"Vorschau: {served.title}",
    }
    return render(request, "portal/form.html", context, status=status, tenant=tenant)


async def preview_page(request: web.Request) -> web.Response:
    """Show a version (default: the newest) as the customer would see it."""
    version = request.query.get("version", "")
    form, served = await _previewed(
        request, int(version) if version.isdigit() else None
    )
    return _form_page(request, form, served)


# Limitation: a test send is read by the back office's handler with the
# portal's intake in the same process; once the two sides run as separate
# processes, the back office needs an intake of its own for test sends.
async def preview_send(request: web.Request) -> web.Response:
    """Take a test send of a previewed version, as the portal takes a real one."""
    number = request.match_info["version"]
    form, served = await _previewed(request, int(number) if number.isdigit() else 0)
    if request.content_type != "multipart/form-data":
        raise PageError(400)
    reader = await request.multipart()
    part = await reader.next()
    if part is None or getattr(part, "name", None) != "csrf_token":
        raise PageError(
            403, "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu."
        )
    auth.check_csrf(request, (await part.read_chunk(1024)).decode("ascii", "replace"))

    portal = request.app[PORTAL]
    intake = portal.new_intake(served)
    await _read_all(intake, reader)
    if changed := await changed_items(served.definition, intake):
        return _form_page(
            request,
            form,
            served,
            changed["values"],
            changed["errors"],
            changed["reselect"],
            status=changed["status"],
        )
    result = validate(served.definition, intake.values, intake.uploads())
    errors = {**result.errors, **intake.file_errors}
    if errors:
        await intake.discard()
        ordered = order_errors(served.definition, errors)
        return _form_page(
            request,
            form,
            served,
            intake.values,
            ordered,
            intake.chosen_files,
            status=422,
        )
    receipt = await portal.commit(
        intake, result.values, secrets.token_hex(16), RECEIVER, test=True
    )
    log.info("Clerk %s sent a test of %s/%s", request[CLERK].id, form.tenant, form.slug)
    return _receipt_page(request, form, served.definition, receipt)


async def preview_conditions(request: web.Request) -> web.Response:
    """Serve the conditions stylesheet of a previewed version."""
    number = request.match_info["version"]
    _, served = await _previewed(request, int(number) if number.isdigit() else 0)
    return css_response(served.definition)


async def _read_all(intake, reader) -> None:
    try:
        await intake.read(reader)
    except TooLarge as error:
        await intake.discard()
        raise PageError(413) from error
    except Malformed as error:
        await intake.discard()
        raise PageError(400) from error
    except BaseException:
        await intake.discard()
        raise


def _receipt_page(
    request: web.Request, form: FormRow, definition: FormDefinition, receipt
) -> web.Response:
    tenant = request.app[TENANTS][form.tenant]
    context = {
        "form": {"title": definition.title},
        "receipt": receipt.number,
        "received_at": german(receipt.received_at),
        "order": False,
        "preview": {
            "admin_url": form_url(form),
            "records_url": f"/admin/records?tests=1&q={receipt.number}",
        },
        "page_title": "Testsendung gesendet",
    }
    return render(request, "portal/receipt.html", context, tenant=tenant)
