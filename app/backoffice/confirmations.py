"""Confirmation mails: the receiver tells the customer their receipt number.

Only the receiver can read a submission, so the receiver, not the portal,
sends the confirmation, queued in the same transaction that commits the
record. It carries the receipt number and a summary of the values, never an
attachment.
"""

import logging
from collections.abc import Sequence

import aiosqlite

from app.backoffice.service import BackOffice
from app.clock import german
from app.forms.definition import FormDefinition
from app.forms.groups import item_of
from app.links import ANSWERS, shown_value
from app.mail.message import MailError, MailTemplates
from app.mail.outbox import Outbox
from app.storage.backoffice import NewRecord
from app.storage.links import link_state

log = logging.getLogger(__name__)

SHOWN_DIGITS = 4


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
    ) -> None:
        self.backoffice = backoffice
        self.outbox = outbox
        self.templates = templates
        self.tenants = tenants

    async def queue(
        self, conn: aiosqlite.Connection, records: Sequence[NewRecord]
    ) -> list[str]:
        """Queue the confirmations inside the records' transaction; return ids."""
        queued = []
        for record in records:
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

    def send(self, mail_ids: Sequence[str]) -> None:
        """Let the outbox try the queued confirmations now."""
        for mail_id in mail_ids:
            self.outbox.schedule(mail_id)
