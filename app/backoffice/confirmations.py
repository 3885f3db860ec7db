"""Confirmation mails: the receiver tells the customer their receipt number.

Only the receiver can read a submission, so the receiver, not the portal,
sends the confirmation, queued in the same transaction that commits the
record. It carries the receipt number and a summary of the values, never an
attachment.
"""

import hashlib
import hmac
import logging
from collections.abc import Sequence

import aiosqlite

from app.backoffice.service import BackOffice
from app.clock import BERLIN, german, utcnow
from app.forms.definition import FormDefinition
from app.forms.groups import item_of
from app.links import ANSWERS, shown_value
from app.mail.message import MailError, MailTemplates
from app.mail.outbox import Outbox
from app.storage.backoffice import NewRecord
from app.storage.confirmations import count_confirmation, note_on_record
from app.storage.links import link_state

log = logging.getLogger(__name__)

SHOWN_DIGITS = 4
# Anyone may type a stranger's address into a public form, so each address
# gets at most this many confirmations a day from one tenant; a customer
# sends rarely more than one or two forms a day.
PER_ADDRESS_PER_DAY = 3
OVER_LIMIT = (
    "Keine Eingangsbestätigung gesendet: An diese E-Mail-Adresse gingen heute "
    f"schon {PER_ADDRESS_PER_DAY} Bestätigungen."
)


def summary(form: FormDefinition, values: dict[str, str]) -> list[dict[str, str]]:
    """Return the labelled values a confirmation shows, account numbers masked."""
    lines = []
    for field in form.fields:
        value = values.get(field.name, "")
        if not value or field.type == "file":
            continue
        if isinstance(value, list):
            item = item_of(form, field.name)
            lines += [
                {"label": f"{field.label} ({item} {n})", "value": shown_value(field, v)}
                for n, v in enumerate(value, start=1)
                if v
            ]
            continue
        if field.type == "iban":
            # A mail may be read by others on its way: the full account
            # number stays out of it.
            value = "•" * (len(value) - SHOWN_DIGITS) + value[-SHOWN_DIGITS:]
        lines.append({"label": field.label, "value": shown_value(field, value)})
    return lines


def recipient(form: FormDefinition, values: dict[str, str]) -> str:
    """Return the address the customer gave in the form's first e-mail field."""
    for field in form.fields:
        if field.type == "email" and values.get(field.name):
            return values[field.name]
    return ""


class Confirmations:
    """Queue a confirmation for each new record whose form asks for one."""

    def __init__(
        self,
        backoffice: BackOffice,
        outbox: Outbox,
        templates: MailTemplates,
        tenants: dict,
        address_key: bytes,
    ) -> None:
        self.backoffice = backoffice
        self.outbox = outbox
        self.templates = templates
        self.tenants = tenants
        # Addresses are counted under a keyed hash: the count tables hold no
        # address, and without the key no guessed address can be checked.
        self.address_key = address_key

    async def queue(
        self, conn: aiosqlite.Connection, records: Sequence[NewRecord]
    ) -> list[str]:
        """Queue the confirmations inside the records' transaction; return ids."""
        queued = []
        for record in records:
            # A clerk's test send must not mail whatever address was typed in.
            if record.test:
                continue
            if record.link_id:
                link = await link_state(conn, record.link_id)
                if link is not None and link["kind"] in ANSWERS:
                    continue
            form = await self.backoffice.definition(
                record.tenant, record.form_slug, record.form_version
            )
            to = recipient(form, record.values) if form else ""
            if not (form and form.confirmation_mail and to):
                continue
            if not await self._within_limit(conn, record.tenant, to):
                log.warning(
                    "No confirmation for submission %s: its address had %s today",
                    record.submission_id,
                    PER_ADDRESS_PER_DAY,
                )
                await note_on_record(conn, record.submission_id, OVER_LIMIT)
                continue
            context = {
                "form_title": form.title,
                "receipt": record.receipt,
                "received_at": german(record.received_at),
                "summary": summary(form, record.values),
            }
            try:
                message = self.templates.message(
                    self.tenants[record.tenant], "confirmation", to, context
                )
            except MailError:
                log.warning("No confirmation for submission %s", record.submission_id)
                continue
            # Limitation: a confirmation belongs to no link, so a relay's final
            # refusal of it is logged but shown on no record.
            queued.append(await self.outbox.queue(conn, message, None))
        return queued

    async def _within_limit(
        self, conn: aiosqlite.Connection, tenant: str, address: str
    ) -> bool:
        """Count a confirmation to an address; False once it had its day's."""
        digest = hmac.new(
            self.address_key, address.strip().lower().encode(), hashlib.sha256
        ).hexdigest()
        day = utcnow().astimezone(BERLIN).date().isoformat()
        return await count_confirmation(conn, tenant, digest, day, PER_ADDRESS_PER_DAY)

    def send(self, mail_ids: Sequence[str]) -> None:
        """Let the outbox try the queued confirmations now."""
        for mail_id in mail_ids:
            self.outbox.schedule(mail_id)
