"""Orders to service providers: a record the clerk opens, a link the provider fills.

An order is a record of an order record type (a meter exchange first) whose
fields fall in two parts: what the clerk sets and the provider reads but
cannot change, and what the provider fills in. It goes out as a link of kind
"order" to one of the tenant's providers; the provider's answer lands on the
same record as a revision, photos included.
"""

import logging
import secrets
from dataclasses import dataclass

from app.backoffice.links import (
    LinkError,
    LinkOffice,
    LinkRequest,
    check_link_check,
    check_prefill,
)
from app.clock import iso, utcnow
from app.forms.checks import today_in_germany
from app.forms.definition import FormDefinition
from app.forms.validation import missing_message
from app.portal.intake import new_receipt
from app.storage.backoffice import NewRecord

log = logging.getLogger(__name__)

# Per order record type: the fields the clerk sets and the provider only
# reads, and the two that frame the date window.
# Limitation: this split lives here in code, not in the field catalog or the
# form definition, so a new order type needs a line of Python here and its
# key in ORDER_RECORD_TYPES (app/forms/definition.py); a test holds the two
# equal.
ORDER_TYPES = {
    "ZAEHLERWECHSEL": (
        frozenset(
            {
                "KUNDE_NACHNAME",
                "ABNST_STRASSE",
                "ABNST_HAUSNR",
                "ABNST_PLZ",
                "ABNST_ORT",
                "ZAEHLER_NR",
                "AUFTRAG_TERMIN_VON",
                "AUFTRAG_TERMIN_BIS",
            }
        ),
        ("AUFTRAG_TERMIN_VON", "AUFTRAG_TERMIN_BIS"),
    ),
}


@dataclass(frozen=True)
class OrderRequest:
    tenant: str
    slug: str
    provider: int
    values: dict[str, str]


def clerk_fields(form: FormDefinition) -> list:
    """Return the fields of an order form that the clerk fills."""
    fixed, _window = ORDER_TYPES[form.record_type]
    return [f for f in form.fields if f.name in fixed]


def _checked(form: FormDefinition, values: dict[str, str]) -> dict[str, str]:
    """Check the clerk's part of an order: every required field, a sane window."""
    fields = clerk_fields(form)
    clean = check_prefill(form, {f.name: values.get(f.name, "") for f in fields})
    missing = [missing_message(f) for f in fields if f.required and f.name not in clean]
    if missing:
        raise LinkError(" ".join(missing))
    # Refused here too, before the order's record is opened.
    check_link_check(form, clean)
    start, end = ORDER_TYPES[form.record_type][1]
    latest = form.field(end).label
    if clean[end] < today_in_germany().isoformat():
        raise LinkError(f"{end}: „{latest}“ liegt in der Vergangenheit.")
    if clean[start] > clean[end]:
        earliest = form.field(start).label
        raise LinkError(f"{start}: „{earliest}“ liegt nach „{latest}“.")
    return clean


async def create_order(
    office: LinkOffice, order: OrderRequest, clerk: str, record_ref: str = ""
) -> str:
    """Open the order's record and send its link to the provider; return its id.

    An order of MODWORK names its own record by `record_ref`; no record is
    opened here then, as MODWORK holds it.
    """
    tenant = office.tenants.get(order.tenant)
    if tenant is None or not 0 <= order.provider < len(tenant.providers):
        raise LinkError("Wählen Sie einen Dienstleister aus.")
    version, form = await office.live_form(order.tenant, order.slug)
    if form.record_type not in ORDER_TYPES:
        raise LinkError("Dieses Formular ist kein Auftrag.")
    values = _checked(form, order.values)

    if record_ref:
        record_id, receipt = None, new_receipt(order.tenant)
    else:
        record_id, receipt = await _open_record(office, order, version, form, values)
    _name, email = tenant.providers[order.provider]
    fixed = {f.name for f in clerk_fields(form)}
    request = LinkRequest(
        tenant=order.tenant,
        slug=order.slug,
        recipient=email,
        values=values,
        kind="order",
        record_id=record_id,
        marked=tuple(f.name for f in form.fields if f.name not in fixed),
        others_editable=False,
        receipt=receipt,
        due=values[ORDER_TYPES[form.record_type][1][1]],
        record_ref=record_ref,
        version=version,
    )
    link_id = await office.create(request, clerk)
    log.info("Opened order record %s with link %s", record_id, link_id)
    return link_id


async def _open_record(office, order, version, form, values) -> tuple[int, str]:
    """Store the order as a record of its own; return its id and receipt."""
    now = iso(utcnow())
    receipt = new_receipt(order.tenant)
    record = NewRecord(
        submission_id=f"order-{secrets.token_hex(16)}",
        tenant=order.tenant,
        record_type=form.record_type,
        form_slug=order.slug,
        form_version=version,
        form_title=form.title,
        receipt=receipt,
        received_at=now,
        taken_at=now,
        values=values,
        attachments=(),
    )
    # Limitation: the order's record and its link are stored one after the
    # other; should making the link fail, the record stays without one.
    store = office.backoffice.store
    await store.add_records([record])
    [row] = await store.records([order.tenant], receipt)
    return row["id"], receipt
