"""Handlers of secure links: open a token, show its pre-filled form, take it.

`GET /l/<token>` checks the token, moves it into a short-lived cookie that
only `/l/<link id>/` receives, and redirects there, so the token leaves the
address bar, the history and every Referer at once.
"""

import hmac
import logging
from dataclasses import dataclass, replace

from aiohttp import web

from app import crypto, csrf
from app.clock import german
from app.forms.definition import ORDER_RECORD_TYPES
from app.forms.groups import flat_values
from app.forms.validation import validate
from app.keys import CONFIG, PORTAL, PORTAL_LINKS, TENANTS
from app.links import (
    ANSWERS,
    MAX_CHECK_TRIES,
    german_day,
    shown_value,
    token_link_id,
)
from app.portal.group_views import changed_items
from app.portal.links import LinkCheck
from app.portal.service import ServedForm
from app.portal.views import (
    SEND_THROTTLE,
    in_page_order,
    read_all,
    read_csrf,
    receipt_page,
    refuse_declared_oversize,
)
from app.storage.portal_links import LinkUsed, PortalLink
from app.tenants import Tenant
from app.throttle import Throttle
from app.web import (
    PageError,
    is_secure,
    keep_csrf_cookie,
    render,
    throttle_key,
)

log = logging.getLogger(__name__)

LINK_THROTTLE: web.AppKey[Throttle] = web.AppKey("link_throttle")
LINK_COOKIE = "mp_link"
CHECKED_COOKIE = "mp_link_ok"
AGAIN = (
    "Bitte öffnen Sie den Link aus Ihrer E-Mail erneut. Aus Sicherheitsgründen "
    "gilt ein geöffneter Link in diesem Browser nur eine Weile."
)


@dataclass(frozen=True)
class LinkedForm:
    """The form as a link shows it: what may be changed, and what stays."""

    served: ServedForm
    fixed: dict[str, str]
    values: dict[str, str]


def _purpose(link_id: str) -> str:
    return f"link:{link_id}"


def _linked_form(check: LinkCheck) -> LinkedForm:
    """Split the form into the fields the customer may change and fixed ones."""
    # Limitation: a secure link shows a stepped form on one page, without its
    # steps and check page, since a link's pre-fill, marked fields and
    # one-time claim are built around a single send of a single page.
    prefill, form = check.prefill, check.form
    marked = set(prefill.marked)
    if prefill.kind in ANSWERS:
        editable = {
            f.name
            for f in form.fields
            if f.name in marked or (prefill.others_editable and f.type != "file")
        }
    else:
        editable = {f.name for f in form.fields}
    sections = tuple(
        replace(s, fields=tuple(f for f in s.fields if f.name in editable))
        for s in form.definition.sections
    )
    served = ServedForm(
        replace(form.definition, sections=sections), form.version, form.publish_until
    )
    known = {f.name for f in form.fields if f.type != "file"}
    fixed = {
        n: v for n, v in prefill.values.items() if n in known and n not in editable
    }
    # A group's lists go onto the page as its items' inputs.
    return LinkedForm(served, fixed, flat_values(form.definition, prefill.values))


def _tenant(request: web.Request, check: LinkCheck) -> Tenant:
    return request.app[PORTAL].framed(request.app[TENANTS][check.link.tenant])


def _order(check: LinkCheck) -> bool:
    return check.prefill is not None and check.prefill.kind == "order"


async def _is_order(request: web.Request, link: PortalLink) -> bool:
    """Say whether a link's form is an order, even once its pre-fill is gone."""
    served = await request.app[PORTAL].published_form(
        link.tenant, link.form_slug, link.form_version
    )
    return served is not None and served.record_type in ORDER_RECORD_TYPES


async def _closed(request: web.Request, check: LinkCheck) -> web.Response:
    """Answer a token that opens nothing, each case with its own page."""
    if check.status == "unknown":
        raise PageError(404)
    link = check.link
    if check.status == "used" and await _is_order(request, link):
        title = "Auftrag bereits erledigt"
        message = (
            f"Das Ergebnis dieses Auftrags wurde am {german(link.used_at)} "
            f"bereits gesendet, Eingangsnummer {link.receipt}. Ein zweites Mal "
            "lässt es sich nicht senden."
        )
    elif check.status == "used":
        title = "Formular bereits gesendet"
        message = (
            f"Dieses Formular wurde am {german(link.used_at)} bereits gesendet. "
            f"Ihre Eingangsnummer ist {link.receipt}. Ein zweites Mal lässt es "
            "sich nicht senden."
        )
    elif link.check_failures >= MAX_CHECK_TRIES:
        title = "Link gesperrt"
        message = (
            "Dieser Link wurde nach zu vielen falschen Angaben gesperrt. Bitte "
            "wenden Sie sich an uns; wir senden Ihnen gern einen neuen."
        )
    elif link.revoked_at:
        title = "Link ungültig"
        message = "Dieser Link gilt nicht mehr."
    else:
        title = "Link abgelaufen"
        message = "Dieser Link ist abgelaufen und lässt sich nicht mehr öffnen."
    context = {"page_title": title, "message": message}
    tenant = _tenant(request, check)
    return render(request, "portal/link_state.html", context, 410, tenant=tenant)


async def open_link(request: web.Request) -> web.Response:
    """Check a link's token, keep it in a cookie and redirect to its form."""
    # Limitation: every open counts against the throttle, a customer's own
    # as much as a guess, since telling them apart would need the lookup
    # that the throttle is there to ration.
    if not request.app[LINK_THROTTLE].allow(throttle_key(request)):
        log.warning("Throttled link opens from one client")
        raise PageError(429)
    token = request.match_info["token"]
    links = request.app[PORTAL_LINKS]
    check = await links.check(token)
    if check.status != "open":
        log.warning("Refused a link token: %s", check.reason)
        return await _closed(request, check)

    await links.opened(check.link.id)
    response = _redirect(check)
    # Lax, since the first click comes from a mail on another site.
    _link_cookie(request, response, check, LINK_COOKIE, token, "Lax")
    raise response


async def _check_cookie(request: web.Request) -> LinkCheck:
    link_id = request.match_info["link"]
    token = request.cookies.get(LINK_COOKIE, "")
    if token_link_id(token) != link_id:
        raise PageError(403, AGAIN, "Link erneut öffnen")
    return await request.app[PORTAL_LINKS].check(token)


def _link_page(
    request: web.Request,
    check: LinkCheck,
    linked: LinkedForm,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    reselect: bool = False,
    status: int = 200,
) -> web.Response:
    portal = request.app[PORTAL]
    tenant = _tenant(request, check)
    cookie = request.cookies.get(csrf.COOKIE) or csrf.new_cookie_value()
    form = linked.served
    fields = {f.name: f for f in check.form.fields}
    errors = errors or {}
    context = {
        "form": form,
        "kind": check.prefill.kind,
        "message": check.prefill.message,
        "receipt": check.prefill.receipt,
        "due": german_day(check.prefill.due) if check.prefill.due else "",
        "marked": check.prefill.marked,
        "fixed": [
            {"label": fields[n].label, "value": shown_value(fields[n], v)}
            for n, v in linked.fixed.items()
        ],
        "values": values,
        "errors": list(errors.items()),
        "error_map": errors,
        "csrf_token": csrf.issue(
            portal.csrf_secret, cookie, _purpose(check.link.id), form.version
        ),
        "action": f"/l/{check.link.id}/formular",
        "reselect_files": reselect,
        "max_upload_label": "",
        "privacy_url": tenant.theme.privacy_url,
        "page_title": form.title,
    }
    response = render(request, "portal/link_form.html", context, status, tenant=tenant)
    keep_csrf_cookie(request, response, cookie)
    return response


def _check_mark(request: web.Request) -> str:
    """Return the mark that a customer answered the link's check, bound to its token."""
    secret = request.app[PORTAL].csrf_secret
    token = request.cookies.get(LINK_COOKIE, "")
    return hmac.new(secret, f"link-check\x00{token}".encode(), "sha256").hexdigest()


def _checked(request: web.Request, check: LinkCheck) -> bool:
    if not check.prefill.check:
        return True
    given = request.cookies.get(CHECKED_COOKIE, "")
    return crypto.constant_time_equal(given, _check_mark(request))


def _check_page(request, check, error=None, status=200) -> web.Response:
    portal = request.app[PORTAL]
    cookie = request.cookies.get(csrf.COOKIE) or csrf.new_cookie_value()
    context = {
        "field": check.form.field(check.prefill.check),
        "error": error,
        "action": f"/l/{check.link.id}/pruefen",
        "csrf_token": csrf.issue(
            portal.csrf_secret, cookie, f"link-check:{check.link.id}"
        ),
        "page_title": "Bitte bestätigen Sie, wer Sie sind",
    }
    tenant = _tenant(request, check)
    response = render(request, "portal/link_check.html", context, status, tenant=tenant)
    keep_csrf_cookie(request, response, cookie)
    return response


def _same_answer(given: str, expected: str) -> bool:
    """Compare answers without spaces and case, in constant time."""
    return crypto.constant_time_equal(
        "".join(given.split()).casefold(), "".join(expected.split()).casefold()
    )


async def answer_check(request: web.Request) -> web.Response:
    """Take the customer's answer to a link's check; lock it after three wrong."""
    if not request.app[LINK_THROTTLE].allow(throttle_key(request)):
        log.warning("Throttled link checks from one client")
        raise PageError(429)
    check = await _check_cookie(request)
    if check.status != "open":
        return await _closed(request, check)
    if not check.prefill.check:
        raise _redirect(check)
    form = await request.post()
    _verify_check_token(request, check, str(form.get("csrf_token", "")))

    expected = check.prefill.values.get(check.prefill.check, "")
    if _same_answer(str(form.get("answer", "")), expected):
        raise _passed(request, check)
    left = await request.app[PORTAL_LINKS].check_failed(check.link.id)
    log.warning("Wrong answer to the check of link %s", check.link.id)
    if not left:
        token = request.cookies[LINK_COOKIE]
        return await _closed(request, await request.app[PORTAL_LINKS].check(token))
    tries = "einen Versuch" if left == 1 else f"{left} Versuche"
    error = f"Diese Angabe stimmt nicht. Sie haben noch {tries}."
    return _check_page(request, check, error, 422)


def _verify_check_token(request: web.Request, check: LinkCheck, token: str) -> None:
    try:
        csrf.verify(
            request.app[PORTAL].csrf_secret,
            request.cookies.get(csrf.COOKIE),
            f"link-check:{check.link.id}",
            token,
            request.app[CONFIG].link_session_minutes * 60,
        )
    except csrf.CsrfError as error:
        raise PageError(403, AGAIN, "Link erneut öffnen") from error


def _passed(request: web.Request, check: LinkCheck) -> web.HTTPSeeOther:
    """Remember, for this link and token, that the check was answered."""
    response = _redirect(check)
    _link_cookie(
        request, response, check, CHECKED_COOKIE, _check_mark(request), "Strict"
    )
    return response


def _redirect(check: LinkCheck) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/l/{check.link.id}/formular")


def _link_cookie(request, response, check, name: str, value: str, samesite: str):
    """Set a short-lived cookie that only this link's pages receive."""
    response.set_cookie(
        name,
        value,
        path=f"/l/{check.link.id}/",
        max_age=request.app[CONFIG].link_session_minutes * 60,
        httponly=True,
        samesite=samesite,
        secure=is_secure(request),
    )


async def show_link_form(request: web.Request) -> web.Response:
    """Show the pre-filled form of the link whose token the cookie holds."""
    check = await _check_cookie(request)
    if check.status != "open":
        return await _closed(request, check)
    if not _checked(request, check):
        return _check_page(request, check)
    linked = _linked_form(check)
    return _link_page(request, check, linked, values=linked.values)


async def send_link_form(request: web.Request) -> web.Response:
    """Take a link's form once: check, seal and store it, and claim the link."""
    portal = request.app[PORTAL]
    if not request.app[SEND_THROTTLE].allow(throttle_key(request)):
        log.warning("Throttled link sends from one client")
        raise PageError(429)
    check = await _check_cookie(request)
    if check.status != "open":
        return await _closed(request, check)
    if not _checked(request, check):
        raise PageError(403, AGAIN, "Link erneut öffnen")
    refuse_declared_oversize(request, portal.config.uploads.max_submission_bytes)
    if request.content_type != "multipart/form-data":
        raise PageError(400)

    reader = await request.multipart()
    claim = await read_csrf(request, reader, _purpose(check.link.id))
    tenant = _tenant(request, check)
    linked = _linked_form(check)
    if previous := await portal.previous_receipt(claim.nonce):
        return receipt_page(request, tenant, linked.served, previous, _order(check))
    intake = portal.new_intake(linked.served, request.content)
    intake.link_id = check.link.id
    intake.record_ref = check.prefill.record_ref or None
    await read_all(intake, reader)
    if changed := await changed_items(linked.served.definition, intake):
        return _link_page(
            request,
            check,
            linked,
            values=changed["values"],
            errors=changed["errors"],
            reselect=changed["reselect"],
            status=changed["status"],
        )

    result = validate(linked.served.definition, intake.values, intake.uploads())
    errors = in_page_order(linked.served, {**result.errors, **intake.file_errors})
    if errors:
        await intake.discard()
        log.warning("Refused a send of link %s: %s fields", check.link.id, len(errors))
        return _link_page(
            request,
            check,
            linked,
            values=intake.values,
            errors=errors,
            reselect=intake.chosen_files,
            status=422,
        )
    return await _commit(request, check, linked, intake, result.values, claim)


async def _commit(request, check, linked, intake, values, claim) -> web.Response:
    """Store the send and claim the link in one transaction; one send wins."""
    portal, links = request.app[PORTAL], request.app[PORTAL_LINKS]
    tenant = _tenant(request, check)
    # Limitation: a link made before links kept their receiver goes to the
    # tenant's receiver of the moment, since nothing else names one for it.
    receiver = check.prefill.receiver or tenant.receiver
    try:
        receipt = await portal.commit(
            intake,
            {**linked.fixed, **values},
            claim.nonce,
            receiver,
            within=links.claimer(check.link.id),
        )
    except LinkUsed:
        await intake.discard()
        log.warning("Refused a second send of link %s", check.link.id)
        return await _closed(request, await links.check(request.cookies[LINK_COOKIE]))
    links.changed.set()
    log.info("Link %s returned as submission %s", check.link.id, intake.id)
    response = receipt_page(request, tenant, linked.served, receipt, _order(check))
    response.del_cookie(LINK_COOKIE, path=f"/l/{check.link.id}/")
    return response
