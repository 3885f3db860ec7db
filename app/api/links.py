"""MODWORK's links through the API: pre-filled links, queries and orders.

Each is made by the back office's LinkOffice, the same code a clerk's link
goes through: the same sealing under a token, the same outbox, the same
states. A key reaches only its own tenant's links; another tenant's link
answers as an unknown one does.
"""

import json
import logging
from datetime import date

from aiohttp import web

from app.api.auth import require_key
from app.backoffice.forms import FORMS
from app.backoffice.links import FormNotLive, LinkError, LinkRequest, prefill_problems
from app.backoffice.orders import (
    ORDER_TYPES,
    OrderRequest,
    clerk_fields,
    create_order,
)
from app.forms.checks import today_in_germany
from app.forms.definition import FormDefinition
from app.forms.validation import missing_message
from app.keys import LINK_OFFICE, TENANTS
from app.links import is_link_id
from app.mail.message import MailError, check_address
from app.storage.api import ApiKey
from app.storage.links import Link
from app.web import Problem

log = logging.getLogger(__name__)

MAX_TEXT = 2000
MAX_REF = 100


class Fields:
    """Read a JSON body's members, gathering what is wrong with each."""

    def __init__(self, body: dict) -> None:
        self.body = body
        self.errors: list[dict] = []

    def wrong(self, field: str, message: str) -> None:
        """Note a wrong member and what is wrong with it."""
        self.errors.append({"field": field, "message": message})

    def text(self, name: str, required: bool = True, limit: int = MAX_TEXT) -> str:
        """Return a string member, noting it when missing, empty or too long."""
        value = self.body.get(name, "")
        if not isinstance(value, str):
            self.wrong(name, "Geben Sie einen Text an.")
            return ""
        if required and not value.strip():
            self.wrong(name, "Diese Angabe fehlt.")
        elif len(value) > limit:
            self.wrong(name, f"Höchstens {limit} Zeichen.")
        return value.strip()

    def values(self, name: str = "values") -> dict[str, str | list[str]]:
        """Return a mapping of MODWORK field names to texts or lists of texts.

        The form's check says which field takes a list (one of a repeatable
        section's, a text per item); here only the shape is checked.
        """
        value = self.body.get(name, {})
        if not isinstance(value, dict):
            self.wrong(name, "Geben Sie Feldnamen mit je einem Text als Wert an.")
            return {}
        for field, given in value.items():
            if isinstance(given, list):
                for index, entry in enumerate(given):
                    if not isinstance(entry, str):
                        self.wrong(
                            f"{name}.{field}[{index}]", "Geben Sie einen Text an."
                        )
            elif not isinstance(given, str):
                message = "Geben Sie einen Text an (eine Liste von Texten im Fall "
                message += "eines wiederholbaren Abschnitts)."
                self.wrong(f"{name}.{field}", message)
        return value

    def names(self, name: str) -> tuple[str, ...]:
        """Return a list member of field names."""
        value = self.body.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.wrong(name, "Geben Sie eine Liste von Feldnamen an.")
            return ()
        return tuple(value)

    def check(self) -> None:
        """Refuse the request with every wrong member named, if there is one."""
        if self.errors:
            raise Problem(422, "Die Angaben sind nicht vollständig.", self.errors)


async def _body(request: web.Request) -> Fields:
    if request.content_type != "application/json":
        raise Problem(415, "Senden Sie die Angaben als application/json.")
    try:
        body = json.loads(await request.read())
    except (ValueError, RecursionError) as error:
        message = "Der Inhalt ist kein gültiges JSON in UTF-8."
        raise Problem(422, errors=[{"field": "body", "message": message}]) from error
    if not isinstance(body, dict):
        message = "Der Inhalt muss ein JSON-Objekt sein."
        raise Problem(422, errors=[{"field": "body", "message": message}])
    return Fields(body)


def _recipient(fields: Fields, name: str = "email") -> str:
    address = fields.text(name, limit=254)
    if address:
        try:
            return check_address(address)
        except MailError:
            fields.wrong(name, "Die E-Mail-Adresse ist ungültig.")
    return address


async def _form(
    request: web.Request, key: ApiKey, fields: Fields
) -> FormDefinition | None:
    """Return the live version of the form the body names, or note why not.

    A wrong form is noted, not refused at once, so that the answer also names
    every other wrong member that does not depend on the form.
    """
    slug = fields.text("form", limit=60)
    if not slug:
        return None
    # The stricter choice: a deleted form sends no new links.
    row = await request.app[FORMS].form(key.tenant, slug)
    if row is not None and row.deleted_at is not None:
        fields.wrong("form", "Dieses Formular ist gelöscht.")
        return None
    try:
        _version, form = await request.app[LINK_OFFICE].live_form(key.tenant, slug)
    except FormNotLive as error:
        fields.wrong("form", str(error))
        return None
    except LinkError:
        fields.wrong("form", "Dieses Formular gibt es nicht.")
        return None
    return form


def _known_names(fields: Fields, form, names, member: str) -> list[str]:
    if form is None:
        return []
    known = {f.name for f in form.fields}
    for name in names:
        if name not in known:
            fields.wrong(f"{member}.{name}", "Das Formular hat kein solches Feld.")
    return [n for n in names if n in known]


def _prefill(fields: Fields, form: FormDefinition | None, values: dict) -> None:
    """Check the pre-filled values as a clerk's are, naming each wrong one.

    A wrong entry of a group's list is named `values.FIELD[i]`, i from 0.
    """
    if form is None or any(e["field"].startswith("values.") for e in fields.errors):
        return  # no form to check against, or a value of the wrong shape named
    known = _known_names(fields, form, values, "values")
    for where, message in prefill_problems(form, {n: values[n] for n in known}):
        fields.wrong(f"values.{where}", message)


def _view(link: Link, history) -> dict:
    return {
        "id": link.id,
        "kind": link.kind,
        "form": {"slug": link.form_slug, "version": link.form_version},
        "record_ref": link.record_ref or None,
        "state": link.state,
        "failure": link.failure,
        "created_at": link.created_at,
        "changed_at": link.changed_at,
        "expires_at": link.expires_at,
        "history": [{"state": h["state"], "at": h["at"]} for h in history],
    }


async def _answer(request: web.Request, link_id: str, status: int) -> web.Response:
    office = request.app[LINK_OFFICE]
    link = await office.store.link(link_id)
    history = await office.store.history(link_id)
    response = web.json_response(_view(link, history), status=status)
    if status == 201:
        response.headers["Location"] = f"/api/v1/links/{link_id}"
    return response


async def _made(request: web.Request, key: ApiKey, make) -> web.Response:
    """Make a link by the office's own code; a refusal there is a 422."""
    try:
        link_id = await make()
    except LinkError as error:
        log.warning("Refused a link from API key %s", key.id)
        raise Problem(422, errors=[{"field": "body", "message": str(error)}]) from error
    log.info("API key %s made link %s", key.id, link_id)
    return await _answer(request, link_id, 201)


async def _asked(
    request: web.Request,
) -> tuple[ApiKey, Fields, FormDefinition | None]:
    """Check the key, read the body and find the form it names."""
    key = await require_key(request, "links:write")
    fields = await _body(request)
    form = await _form(request, key, fields)
    return key, fields, form


def _no_order(fields: Fields, form) -> None:
    """Refuse an order form anywhere but /orders: it is no customer's contract."""
    if form is not None and form.record_type in ORDER_TYPES:
        fields.wrong("form", "Ein Auftragsformular geht nur über /api/v1/orders.")


async def create_link(request: web.Request) -> web.Response:
    """Mail a customer a link to a form pre-filled with MODWORK's values."""
    key, fields, form = await _asked(request)
    office = request.app[LINK_OFFICE]
    _no_order(fields, form)

    recipient = _recipient(fields)
    values = fields.values()
    if "check_value" in fields.body:
        check_value = fields.text("check_value", limit=200)
        if form is not None and not form.link_check:
            fields.wrong("check_value", "Dieses Formular fragt keinen Prüfwert ab.")
        elif form is not None and check_value:
            values = {**values, form.link_check: check_value}
    _prefill(fields, form, values)
    fields.check()

    link = LinkRequest(key.tenant, form.slug, recipient, values)
    return await _made(request, key, lambda: office.create(link, f"api:{key.name}"))


async def create_query(request: web.Request) -> web.Response:
    """Ask a customer back on one of MODWORK's records: marked fields, a message."""
    key, fields, form = await _asked(request)
    office = request.app[LINK_OFFICE]
    _no_order(fields, form)

    recipient = _recipient(fields)
    record_ref = fields.text("record_ref", limit=MAX_REF)
    message = fields.text("message")
    receipt = fields.text("receipt", required=False, limit=40)
    values = fields.values()
    _known_names(fields, form, values, "values")
    marked = fields.names("marked")
    if not marked and "marked" not in [e["field"] for e in fields.errors]:
        fields.wrong("marked", "Markieren Sie mindestens ein Feld.")
    _known_names(fields, form, marked, "marked")
    others_editable = fields.body.get("others_editable", False)
    if not isinstance(others_editable, bool):
        fields.wrong("others_editable", "Geben Sie true oder false an.")
    fields.check()

    query = LinkRequest(
        tenant=key.tenant,
        slug=form.slug,
        recipient=recipient,
        values=values,
        kind="query",
        message=message,
        marked=marked,
        others_editable=others_editable,
        receipt=receipt,
        record_ref=record_ref,
    )
    return await _made(request, key, lambda: office.create(query, f"api:{key.name}"))


def _window(fields: Fields) -> tuple[str, str]:
    window = fields.body.get("window")
    if not isinstance(window, dict):
        fields.wrong("window", "Geben Sie das Zeitfenster mit from und until an.")
        return "", ""
    days = []
    for name in ("from", "until"):
        given = window.get(name)
        try:
            days.append(date.fromisoformat(given).isoformat())
        except (TypeError, ValueError):
            fields.wrong(f"window.{name}", "Geben Sie ein Datum als JJJJ-MM-TT an.")
            days.append("")
    if days[1] and days[1] < today_in_germany().isoformat():
        fields.wrong("window.until", "Der späteste Termin liegt in der Vergangenheit.")
    elif all(days) and days[0] > days[1]:
        fields.wrong("window.until", "Der späteste Termin liegt vor dem frühesten.")
    return days[0], days[1]


async def create_order_link(request: web.Request) -> web.Response:
    """Send one of the tenant's service providers an order with a date window."""
    key, fields, form = await _asked(request)
    office = request.app[LINK_OFFICE]
    is_order = form is not None and form.record_type in ORDER_TYPES
    if form is not None and not is_order:
        fields.wrong("form", "Dieses Formular ist kein Auftrag.")

    providers = [name for name, _ in request.app[TENANTS][key.tenant].providers]
    provider = fields.text("provider", limit=200)
    if provider and provider not in providers:
        fields.wrong("provider", "Diesen Dienstleister kennt der Mandant nicht.")
    record_ref = fields.text("record_ref", limit=MAX_REF)
    values = fields.values()
    start, end = _window(fields)
    if not is_order:
        fields.check()
    window_fields = ORDER_TYPES[form.record_type][1]
    values = {**values, **dict(zip(window_fields, (start, end), strict=True))}
    _prefill(fields, form, values)
    for field in clerk_fields(form):
        # The window's own fields are named under `window` when wrong.
        given = values.get(field.name, "")
        missing = not (given.strip() if isinstance(given, str) else given)
        if field.required and missing and field.name not in window_fields:
            fields.wrong(f"values.{field.name}", missing_message(field))
    fields.check()

    order = OrderRequest(key.tenant, form.slug, providers.index(provider), values)
    return await _made(
        request,
        key,
        lambda: create_order(office, order, f"api:{key.name}", record_ref),
    )


async def _own_link(request: web.Request, key: ApiKey) -> Link:
    link_id = request.match_info["id"]
    link = None
    if is_link_id(link_id):
        link = await request.app[LINK_OFFICE].store.link(link_id)
    if link is None or link.tenant != key.tenant:
        raise Problem(404, "Diesen Link gibt es nicht.")
    return link


async def get_link(request: web.Request) -> web.Response:
    """Return a link's state and the states it went through, with their times."""
    key = await require_key(request, "links:write")
    link = await _own_link(request, key)
    await request.app[LINK_OFFICE].apply_events()  # what the portal saw counts
    return await _answer(request, link.id, 200)


async def _change(request: web.Request, change: str) -> web.Response:
    """Revoke a link or send it again by the office's own code."""
    key = await require_key(request, "links:write")
    link = await _own_link(request, key)

    office = request.app[LINK_OFFICE]
    try:
        await (office.revoke if change == "revoke" else office.resend)(link.id)
    except LinkError as error:
        raise Problem(409, str(error)) from error
    log.info("API key %s: %s of link %s", key.id, change, link.id)
    return await _answer(request, link.id, 200)


async def revoke_link(request: web.Request) -> web.Response:
    """Stop a link for good; a mail of it still waiting is dropped."""
    return await _change(request, "revoke")


async def resend_link(request: web.Request) -> web.Response:
    """Send a link again under a new token; the old token stops at once."""
    return await _change(request, "resend")
