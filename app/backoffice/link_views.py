"""Admin pages of secure links: pre-filled contracts, queries, and their states."""

import json
import logging
from urllib.parse import urlencode

from aiohttp import web

from app.backoffice import auth
from app.backoffice.links import GROUPS_REFUSED, LinkError, LinkRequest
from app.backoffice.orders import ORDER_TYPES, OrderRequest, clerk_fields, create_order
from app.backoffice.views import _clerks_record, _label, _page
from app.clock import german
from app.forms.catalog import FIELD_TYPES
from app.forms.groups import (
    GroupError,
    apply_change,
    change_of,
    counts,
    flat_values,
    grouped_names,
    has_groups,
    item_name,
    page_items,
    repeated,
)
from app.keys import BACKOFFICE, CLERK, LINK_OFFICE, TENANTS
from app.links import FINAL_STATES, NOTE_LABELS, STATE_LABELS, STATES, is_link_id
from app.storage.links import Link
from app.web import PageError

log = logging.getLogger(__name__)

# Fields a clerk may pre-fill: a file is the customer's to give, and so is
# every consent.
PREFILLABLE = frozenset(FIELD_TYPES) - {"file", "consent"}
KIND_LABELS = {
    "contract": "Vorausgefülltes Formular",
    "query": "Rückfrage",
    "order": "Auftrag an Dienstleister",
}


def _summary(request: web.Request, link: Link) -> dict:
    tenant = request.app[TENANTS].get(link.tenant)
    return {
        "id": link.id,
        "url": f"/admin/links/{link.id}",
        "tenant_name": tenant.name if tenant else link.tenant,
        "form": f"{link.tenant}/{link.form_slug}",
        "kind_label": KIND_LABELS.get(link.kind, link.kind),
        "recipient": link.recipient,
        "state": link.state,
        "state_label": STATE_LABELS[link.state],
        "failure": link.failure,
        "created_at": german(link.created_at),
        "expires_at": german(link.expires_at),
        "record_id": link.record_id,
        "open": link.state not in FINAL_STATES,
    }


async def links_page(request: web.Request) -> web.Response:
    """List the clerk's links, newest first, perhaps of one state."""
    clerk = await auth.require_clerk(request)
    state = request.query.get("state", "")
    if state not in STATE_LABELS:
        state = ""
    found = await request.app[LINK_OFFICE].store.links(clerk.tenants, state)
    context = {
        "links": [_summary(request, link) for link in found],
        "states": STATES,
        "state_filter": state,
        "page_title": "Links",
    }
    return _page(request, "admin/links.html", context)


async def _clerks_link(request: web.Request) -> Link:
    clerk = await auth.require_clerk(request)
    link_id = request.match_info["id"]
    link = (
        await request.app[LINK_OFFICE].store.link(link_id)
        if is_link_id(link_id)
        else None
    )
    if link is None or not clerk.may_see(link.tenant):
        raise PageError(404)
    return link


async def link_page(request: web.Request) -> web.Response:
    """Show one link: its state, its history, and what may still be done."""
    link = await _clerks_link(request)
    office = request.app[LINK_OFFICE]
    summary = _summary(request, link)
    summary["history"] = [
        {
            "label": NOTE_LABELS.get(row["note"]) or STATE_LABELS[row["state"]],
            "at": german(row["at"]),
        }
        for row in await office.store.history(link.id)
    ]
    returned = await office.store.record_of_link(link.id)
    summary["returned_url"] = f"/admin/records/{returned}" if returned else None
    messages = {
        "sent": "Der Link wurde angelegt; die E-Mail ist unterwegs.",
        "resent": "Der Link wurde neu gesendet; der alte gilt nicht mehr.",
        "revoked": "Der Link wurde widerrufen.",
    }
    context = {
        "link": summary,
        "message": messages.get(request.query.get("done", "")),
        "page_title": f"Link {link.id}",
    }
    return _page(request, "admin/link.html", context)


async def _link_action(request: web.Request, action: str) -> web.Response:
    link = await _clerks_link(request)
    form = await request.post()
    auth.check_csrf(request, str(form.get("csrf_token", "")))
    office = request.app[LINK_OFFICE]
    try:
        if action == "revoked":
            await office.revoke(link.id)
        else:
            await office.resend(link.id)
    except LinkError as error:
        raise PageError(409, str(error), "Nicht möglich") from error
    raise web.HTTPSeeOther(f"/admin/links/{link.id}?done={action}")


async def revoke_link(request: web.Request) -> web.Response:
    """Stop a link at once."""
    return await _link_action(request, "revoked")


async def resend_link(request: web.Request) -> web.Response:
    """Send a link again under a new token."""
    return await _link_action(request, "resent")


async def _forms(request: web.Request, tenants, orders: bool = False) -> list[dict]:
    """Return each form as a link would serve it, orders or the others."""
    backoffice = request.app[BACKOFFICE]
    office = request.app[LINK_OFFICE]
    forms = []
    for row in await office.store.latest_forms(tenants):
        if row["tenant"] not in request.app[TENANTS]:
            continue
        try:
            _version, definition = await office.live_form(row["tenant"], row["slug"])
        except LinkError:
            # Listed all the same: choosing it says why no link can be made.
            definition = await backoffice.definition(
                row["tenant"], row["slug"], row["version"]
            )
        forms.append(
            {
                "key": f"{row['tenant']}/{row['slug']}",
                "title": definition.title,
                "tenant_name": request.app[TENANTS][row["tenant"]].name,
                "definition": definition,
            }
        )
    return [f for f in forms if (f["definition"].record_type in ORDER_TYPES) == orders]


async def new_link_page(request: web.Request) -> web.Response:
    """Show the choice of forms, or the chosen form's fields to pre-fill."""
    clerk = await auth.require_clerk(request)
    forms = await _forms(request, clerk.tenants)
    chosen = next((f for f in forms if f["key"] == request.query.get("form")), None)
    values: dict[str, str] = {}
    if record_id := request.query.get("record", ""):
        row = await request.app[BACKOFFICE].store.record(
            int(record_id) if record_id.isdigit() else 0
        )
        if row is None or not clerk.may_see(row["tenant"]):
            raise PageError(404)
        values = json.loads(row["field_values"])
        if chosen:
            values = flat_values(chosen["definition"], values)
    return _new_link(request, forms, chosen, values, "", None)


def _new_link(request, forms, chosen, values, recipient, error, status=200):
    fields, groups = [], []
    if chosen:
        definition = chosen["definition"]
        grouped = grouped_names(definition)
        fields = [
            f
            for f in definition.fields
            if f.type in PREFILLABLE and f.name not in grouped
        ]
        groups = [
            {
                "number": number,
                "rule": section.repeat,
                "entries": [
                    {**item, "fields": _prefillable(item["fields"])}
                    for item in page_items(section, number, values)
                ],
            }
            for number, section in repeated(definition)
        ]
    context = {
        "forms": forms,
        "chosen": chosen,
        "fields": fields,
        "groups": groups,
        "values": values,
        "recipient": recipient,
        "error": error,
        "page_title": "Neuer Link",
    }
    return _page(request, "admin/link_new.html", context, status=status)


async def _posted_choice(request: web.Request, orders: bool):
    """Read a clerk's posted form: the clerk, the fields, the forms, the choice."""
    clerk = await auth.require_clerk(request)
    form = await request.post()
    auth.check_csrf(request, str(form.get("csrf_token", "")))
    forms = await _forms(request, clerk.tenants, orders=orders)
    chosen = next((f for f in forms if f["key"] == form.get("form")), None)
    if chosen is None:
        raise PageError(404)
    return clerk, form, forms, chosen


def _prefillable(fields) -> list:
    return [f for f in fields if f.type in PREFILLABLE]


def _posted_values(definition, raw: dict[str, str]) -> dict[str, str | list[str]]:
    """Return the clerk's filled values; a group's field as a list per item."""
    grouped = grouped_names(definition)
    values: dict[str, str | list[str]] = {
        f.name: raw.get(f.name, "").strip()
        for f in _prefillable(definition.fields)
        if f.name not in grouped and raw.get(f.name, "").strip()
    }
    sent = counts(definition, raw)
    for number, section in repeated(definition):
        for field in _prefillable(section.fields):
            entries = [
                raw.get(item_name(field.name, item), "").strip()
                # Not cut to the maximum: more items are refused, not dropped.
                for item in range(1, sent[number] + 1)
            ]
            if any(entries):
                values[field.name] = entries
    return values


async def create_link(request: web.Request) -> web.Response:
    """Make a pre-filled link from the clerk's values and send it."""
    clerk, form, forms, chosen = await _posted_choice(request, orders=False)
    definition = chosen["definition"]
    raw = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    recipient = str(form.get("recipient", "")).strip()
    shown = {k: v for k, v in raw.items() if k not in ("csrf_token", "form")}
    try:
        if change := change_of(raw):
            # An add or remove button: the page again, nothing sent.
            shown, errors = apply_change(definition, raw, change)
            problem = " ".join(errors.values()) or None
            status = 422 if problem else 200
            return _new_link(request, forms, chosen, shown, recipient, problem, status)
    except GroupError as error:
        raise PageError(400) from error
    tenant, slug = chosen["key"].split("/")
    wanted = LinkRequest(tenant, slug, recipient, _posted_values(definition, raw))
    try:
        link_id = await request.app[LINK_OFFICE].create(wanted, clerk.name)
    except LinkError as error:
        return _new_link(request, forms, chosen, shown, recipient, str(error), 422)
    raise web.HTTPSeeOther(f"/admin/links/{link_id}?done=sent")


async def record_links(request: web.Request, row, definition) -> dict:
    """Return what a record's page shows of its links and its revisions."""
    office = request.app[LINK_OFFICE]
    catalog = request.app[BACKOFFICE].catalog
    revisions = [
        {
            "receipt": r["receipt"],
            "received_at": german(r["received_at"]),
            "changes": [
                {"label": _label(definition, catalog, name), "old": old, "new": new}
                for name, old, new in json.loads(r["changes"])
            ],
        }
        for r in await office.store.revisions(row["id"])
    ]
    source = await office.store.link(row["link_id"]) if row["link_id"] else None
    return {
        "source_link": _summary(request, source) if source else None,
        "queries": [
            _summary(request, link)
            for link in await office.store.links_of_record(row["id"])
        ],
        "revisions": revisions,
        # An order's links go to its provider and its revisions are results.
        "order": definition is not None and definition.record_type in ORDER_TYPES,
        "template_url": "/admin/links/new?"
        + urlencode(
            {"form": f"{row['tenant']}/{row['form_slug']}", "record": row["id"]}
        ),
    }


async def _queried_record(request: web.Request):
    """Return the clerk's record a query may ask about; an order's may not."""
    row = await _clerks_record(request)
    # An order's link goes to its provider; the customer has no form to ask on.
    if row["record_type"] in ORDER_TYPES:
        raise PageError(404)
    return row


async def new_query_page(request: web.Request) -> web.Response:
    """Show the query form of a record: fields to mark, a message, an address."""
    row = await _queried_record(request)
    values = json.loads(row["field_values"])
    return await _query_page(request, row, values.get("KUNDE_EMAIL", ""), None)


async def _query_page(request, row, recipient, error, status=200, form=None):
    backoffice = request.app[BACKOFFICE]
    definition = await backoffice.definition(
        row["tenant"], row["form_slug"], row["form_version"]
    )
    if has_groups(definition):
        # Refused before a clerk writes anything, not after the send.
        context = {
            "record": {"id": row["id"], "receipt": row["receipt"]},
            "refused": GROUPS_REFUSED,
            "page_title": f"Rückfrage zu {row['receipt']}",
        }
        status = 200 if form is None else 422
        return _page(request, "admin/query_new.html", context, status=status)
    values = json.loads(row["field_values"])
    fields = [
        {"name": f.name, "label": f.label, "value": values.get(f.name, "")}
        for f in definition.fields
    ]
    context = {
        "record": {"id": row["id"], "receipt": row["receipt"]},
        "refused": None,
        "fields": fields,
        "marked": set(form.getall("marked", [])) if form else set(),
        "message": str(form.get("message", "")) if form else "",
        "others_editable": bool(form.get("others_editable")) if form else False,
        "recipient": recipient,
        "error": error,
        "page_title": f"Rückfrage zu {row['receipt']}",
    }
    return _page(request, "admin/query_new.html", context, status=status)


async def create_query(request: web.Request) -> web.Response:
    """Send the customer a query: a link to their own form with marked fields."""
    row = await _queried_record(request)
    clerk = request[CLERK]
    form = await request.post()
    auth.check_csrf(request, str(form.get("csrf_token", "")))
    marked = tuple(str(m) for m in form.getall("marked", []))
    message = str(form.get("message", "")).strip()
    recipient = str(form.get("recipient", "")).strip()
    problem = None
    if not marked:
        problem = "Markieren Sie mindestens ein Feld, das geprüft werden soll."
    elif not message:
        problem = "Schreiben Sie eine Nachricht an die Kundin oder den Kunden."
    if problem is None:
        query = LinkRequest(
            tenant=row["tenant"],
            slug=row["form_slug"],
            recipient=recipient,
            values=json.loads(row["field_values"]),
            kind="query",
            record_id=row["id"],
            message=message,
            marked=marked,
            others_editable=bool(form.get("others_editable")),
            receipt=row["receipt"],
            # The customer answers on the version their record was filled on.
            version=row["form_version"],
        )
        try:
            link_id = await request.app[LINK_OFFICE].create(query, clerk.name)
        except LinkError as error:
            problem = str(error)
    if problem:
        return await _query_page(request, row, recipient, problem, 422, form)
    raise web.HTTPSeeOther(f"/admin/links/{link_id}?done=sent")


async def new_order_page(request: web.Request) -> web.Response:
    """Show the order forms, or the chosen one's fields and the providers."""
    clerk = await auth.require_clerk(request)
    forms = await _forms(request, clerk.tenants, orders=True)
    chosen = next((f for f in forms if f["key"] == request.query.get("form")), None)
    return _new_order(request, forms, chosen, {}, None)


def _new_order(request, forms, chosen, values, error, status=200):
    providers, fields = [], []
    if chosen:
        tenant = request.app[TENANTS][chosen["key"].split("/")[0]]
        providers = list(enumerate(name for name, _ in tenant.providers))
        fields = clerk_fields(chosen["definition"])
    context = {
        "forms": forms,
        "chosen": chosen,
        "providers": providers,
        "fields": fields,
        "values": values,
        "error": error,
        "page_title": "Neuer Auftrag",
    }
    return _page(request, "admin/order_new.html", context, status=status)


async def create_order_view(request: web.Request) -> web.Response:
    """Open an order's record and send the provider its link."""
    clerk, form, forms, chosen = await _posted_choice(request, orders=True)
    names = [f.name for f in clerk_fields(chosen["definition"])]
    values = {n: str(form.get(n, "")).strip() for n in names}
    provider = str(form.get("provider", ""))
    tenant, slug = chosen["key"].split("/")
    order = OrderRequest(
        tenant, slug, int(provider) if provider.isdigit() else -1, values
    )
    try:
        link_id = await create_order(request.app[LINK_OFFICE], order, clerk.name)
    except LinkError as error:
        return _new_order(request, forms, chosen, values, str(error), 422)
    raise web.HTTPSeeOther(f"/admin/links/{link_id}?done=sent")
