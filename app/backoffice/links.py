"""The back office's side of secure links: make, send, resend, revoke, follow.

A link is made here: its values are kept in the back office, sealed under
a fresh token for the portal, and the mail carrying the token is queued in
the same transaction as the link itself. The token then lives only in the
(encrypted) outbox until the mail is gone, and in the customer's inbox.
"""

import asyncio
import logging
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app import crypto, links
from app.backoffice.confirmations import Confirmations
from app.backoffice.service import BackOffice
from app.clock import BERLIN, german, iso, utcnow
from app.config import Config
from app.forms.definition import ORDER_RECORD_TYPES, FormDefinition
from app.forms.groups import (
    flat_values,
    has_groups,
    item_of,
    list_problems,
    split_name,
)
from app.forms.lifecycle import online_version
from app.forms.validation import validate
from app.links import (
    ANSWERS,
    FINAL_STATES,
    LOCKED_NOTE,
    RESENT,
    Prefill,
    german_day,
)
from app.mail.message import MailError, MailTemplates, check_address
from app.mail.outbox import Outbox
from app.mail.transport import make_transport
from app.portal.links import PortalLinks
from app.storage import links as sql
from app.storage.db import secret_file
from app.storage.forms import FormStore
from app.storage.outbox import delete_mails_of_link
from app.storage.portal_links import LinkUsed, PortalLink
from app.timers import Scheduler

log = logging.getLogger(__name__)

WAITING_STATUS = "waiting"
LOCKED = "Nach zu vielen falschen Antworten auf die Sicherheitsfrage gesperrt."
TEMPLATES = {
    "contract": "link_contract",
    "query": "link_query",
    "order": "link_order",
}


PREFILL_GONE = (
    "Die Angaben dieses Links sind nicht mehr gespeichert; legen Sie einen "
    "neuen Link an."
)
ORDER_ONLY = (
    "Ein Auftragsformular lässt sich nur als Auftrag an einen Dienstleister senden."
)
GROUPS_REFUSED = (
    "Dieses Formular hat wiederholbare Abschnitte. Rückfragen und Aufträge sind "
    "dafür noch nicht möglich; senden Sie der Kundin oder dem Kunden stattdessen "
    "einen vorausgefüllten Link zu diesem Formular."
)


class LinkError(Exception):
    """A link that cannot be made; the German message says why."""


class FormNotLive(LinkError):
    """A link asked of a form with no version customers may see now."""


@dataclass(frozen=True)
class LinkRequest:
    """What a clerk or a script asks for: a form, values and an address."""

    tenant: str
    slug: str
    recipient: str
    values: dict[str, str]
    kind: str = "contract"
    record_id: int | None = None
    message: str = ""
    marked: tuple[str, ...] = ()
    others_editable: bool = True
    receipt: str = ""
    days: int | None = None
    due: str = ""
    # MODWORK's reference of its record, carried back with the answer.
    record_ref: str = ""
    # The version to serve: a query's record's own, or one already chosen.
    # None serves the version live now.
    version: int | None = None


Values = dict[str, str | list[str]]


def prefill_problems(form: FormDefinition, values: Values) -> list[tuple[str, str]]:
    """Return what is wrong with values a clerk pre-fills, keyed by where.

    A key is a field's name, or `NAME[i]` for the entry i (from 0) of a
    group's list; each message is German.
    """
    problems = []
    for name in values:
        try:
            field = form.field(name)
        except KeyError:
            problems.append((name, "Das Formular hat kein solches Feld."))
            continue
        if field.type == "file":
            problems.append((name, "Dateien lassen sich nicht vorausfüllen."))
        elif field.type == "consent":
            problems.append((name, "Eine Zustimmung gibt der Kunde selbst."))
    problems += list_problems(form, values)
    if problems:
        return problems
    result = validate(form, flat_values(form, values), {})
    for name, message in result.errors.items():
        parts = split_name(name)
        if name in values and values[name].strip():
            problems.append((name, message))
        elif parts and parts[0] in values and values[parts[0]][parts[1] - 1].strip():
            item = item_of(form, parts[0])
            where = f"{parts[0]}[{parts[1] - 1}]"
            problems.append((where, f"{item} {parts[1]}: {message}"))
    return problems


def check_prefill(form: FormDefinition, values: Values) -> Values:
    """Check values a clerk pre-fills; return them normalised or raise LinkError.

    A field of a repeatable section takes a list, one text per item.
    """
    if problems := prefill_problems(form, values):
        raise LinkError(" ".join(f"{where}: {message}" for where, message in problems))
    result = validate(form, flat_values(form, values), {})
    checked: Values = {}
    for name, value in values.items():
        if isinstance(value, list):
            checked[name] = [
                clean if raw.strip() else ""
                for raw, clean in zip(value, result.values[name], strict=False)
            ]
        elif value.strip():
            checked[name] = result.values[name]
    return checked


def check_link_check(form: FormDefinition, values: dict[str, str]) -> str:
    """Return the field a link asks its customer for, refusing its empty value."""
    if not form.link_check:
        return ""
    if not values.get(form.link_check, "").strip():
        # Without the value the question would be skipped, and the link would
        # show its values to whoever holds it: no link, rather.
        label = form.field(form.link_check).label
        raise LinkError(
            f"{form.link_check}: Geben Sie „{label}“ an. Das Formular fragt "
            "diesen Wert vor dem Öffnen des Links als Sicherheitsfrage ab."
        )
    return form.link_check


class LinkOffice:
    """Every link of the back office, its mail and what became of it."""

    def __init__(
        self,
        backoffice: BackOffice,
        portal_links: PortalLinks,
        outbox: Outbox,
        templates: MailTemplates,
        tenants: dict,
        config: Config,
        scheduler: Scheduler,
    ) -> None:
        self.backoffice = backoffice
        self.db = backoffice.store.db
        self.store = sql.LinkStore(self.db)
        self.forms = FormStore(self.db)
        self.portal_links = portal_links
        self.outbox = outbox
        self.templates = templates
        self.tenants = tenants
        self.config = config
        self.scheduler = scheduler
        self.confirmations = Confirmations(
            backoffice,
            outbox,
            templates,
            tenants,
            secret_file(config.backoffice_dir / "confirmations.secret"),
        )
        outbox.listeners.append(self._on_mail)
        # Set whenever a link's state may have changed, for the API's webhook.
        self.states_changed = asyncio.Event()

    async def live_form(self, tenant: str, slug: str) -> tuple[int, FormDefinition]:
        """Return the version of a form live now and its definition, or refuse.

        A link must not carry a draft a clerk is still editing: it serves the
        version customers may see now (a links-only form is published too).
        """
        row = await self.forms.form(tenant, slug)
        if row is None:
            raise LinkError(f"Das Formular {tenant}/{slug} gibt es nicht.")
        publications = await self.forms.publications(row.id)
        version = online_version(publications, self.scheduler.clock())
        if version is None or row.deleted_at is not None:
            raise FormNotLive(
                f"Das Formular {tenant}/{slug} ist zurzeit nicht veröffentlicht; "
                "ein Link kann nur eine veröffentlichte Version senden."
            )
        return version, await self.backoffice.definition(tenant, slug, version)

    async def _served_form(self, request: LinkRequest) -> tuple[int, FormDefinition]:
        if request.version is None:
            return await self.live_form(request.tenant, request.slug)
        form = await self.backoffice.definition(
            request.tenant, request.slug, request.version
        )
        if form is None:
            raise LinkError(f"Version {request.version} gibt es nicht.")
        return request.version, form

    async def create(self, request: LinkRequest, clerk: str) -> str:
        """Make a link, publish it to the portal and queue its mail; return its id."""
        if request.tenant not in self.tenants:
            raise LinkError(f"Den Mandanten {request.tenant} gibt es nicht.")
        version, form = await self._served_form(request)
        link = self._new_link(request, clerk, version, form)

        token = await self._publish(link, link.expires_at)
        message = self._mail(link, token, form.title, link.expires_at, False)
        async with self.db.transaction() as conn:
            await sql.insert_link(conn, link)
            if link.record_id is not None:
                await sql.set_record_status(conn, link.record_id, WAITING_STATUS)
            mail_id = await self.outbox.queue(conn, message, link.id)
        self.outbox.schedule(mail_id)
        self._schedule_reminder(link)
        self._schedule_overdue(link)
        self.states_changed.set()
        log.info("Created %s link %s", link.kind, link.id)
        return link.id

    def _new_link(
        self, request: LinkRequest, clerk: str, version: int, form: FormDefinition
    ) -> sql.Link:
        """Check what a link is asked for and describe it, not yet stored."""
        # Limitation: queries and orders are refused for a form with a
        # repeatable section, because marking a field in every item, keeping
        # a group's items fixed and showing a correction per item are not
        # built yet; a pre-filled link does carry a group's items.
        if request.kind != "contract" and has_groups(form):
            raise LinkError(GROUPS_REFUSED)
        if request.kind != "order" and form.record_type in ORDER_RECORD_TYPES:
            raise LinkError(ORDER_ONLY)
        if request.kind == "contract":
            values = check_prefill(form, request.values)
        else:
            names = {f.name for f in form.fields}
            values = {k: v for k, v in request.values.items() if k in names}
        try:
            recipient = check_address(request.recipient)
        except MailError as error:
            raise LinkError("Die E-Mail-Adresse ist ungültig.") from error
        prefill = Prefill(
            request.kind,
            values,
            request.message,
            tuple(request.marked),
            request.others_editable,
            request.receipt,
            request.due,
            check_link_check(form, values),
            record_ref=request.record_ref,
            receiver=self.tenants[request.tenant].receiver,
        )
        now = utcnow()
        days = request.days or form.link_expiry_days or self.config.link_expiry_days
        return sql.Link(
            id=links.new_link_id(),
            tenant=request.tenant,
            form_slug=request.slug,
            form_version=version,
            kind=request.kind,
            record_id=request.record_id,
            recipient=recipient,
            prefill=prefill.to_dict(),
            state="created",
            failure=None,
            created_by=clerk,
            created_at=iso(now),
            expires_at=iso(now + timedelta(days=days)),
            changed_at=iso(now),
            record_ref=request.record_ref,
        )

    async def resend(self, link_id: str, reminder: bool = False) -> None:
        """Send a link again under a new token; the old token stops at once."""
        link = await self.store.link(link_id)
        if link is None or link.state == "returned":
            raise LinkError("Dieser Link lässt sich nicht erneut senden.")
        if link.prefill is None:
            raise LinkError(PREFILL_GONE)
        now = utcnow()
        expires = link.expires_at
        if not reminder:
            days = (
                datetime.fromisoformat(link.expires_at)
                - datetime.fromisoformat(link.created_at)
            ).days or self.config.link_expiry_days
            expires = iso(now + timedelta(days=days))
        await self.apply_events()  # a send the portal took counts already
        try:
            token = await self._publish(link, expires)
        except LinkUsed as error:
            raise LinkError("Dieser Link wurde bereits genutzt.") from error
        definition = await self.backoffice.definition(
            link.tenant, link.form_slug, link.form_version
        )
        message = self._mail(link, token, definition.title, expires, reminder)
        async with self.db.transaction() as conn:
            await delete_mails_of_link(conn, link.id)
            if reminder:
                await sql.mark_reminded(conn, link.id, iso(now))
            else:
                await sql.set_link_state(
                    conn, link.id, "created", iso(now), None, expires, RESENT
                )
                if link.record_id is not None and link.kind in ANSWERS:
                    await sql.set_record_status(conn, link.record_id, WAITING_STATUS)
            mail_id = await self.outbox.queue(conn, message, link.id)
        self.outbox.schedule(mail_id)
        self.states_changed.set()
        log.info("Sent link %s again (reminder: %s)", link.id, reminder)

    async def revoke(self, link_id: str) -> None:
        """Stop a link for good; a mail of it still waiting is dropped."""
        link = await self.store.link(link_id)
        if link is None or link.state in FINAL_STATES:
            raise LinkError("Dieser Link gilt schon nicht mehr.")
        await self.portal_links.revoke(link.id)
        self.scheduler.cancel(f"link-reminder:{link.id}")
        async with self.db.transaction() as conn:
            await delete_mails_of_link(conn, link.id)
            await sql.set_link_state(conn, link.id, "revoked", iso(utcnow()))
            if link.record_id is not None and link.kind in ANSWERS:
                await sql.set_record_status(conn, link.record_id, "in_progress")
        await self._fold_wal()
        self.states_changed.set()

    async def _fold_wal(self) -> None:
        """Checkpoint, so that no old copy of a cleared pre-fill stays in the WAL."""
        # Limitation: a checkpoint that a long read keeps from finishing leaves
        # the cleared pre-fill in the WAL until the next checkpoint succeeds.
        try:
            await self.db.checkpoint()
        except sqlite3.OperationalError:
            log.warning("Could not fold the WAL after a link ended", exc_info=True)

    async def _publish(self, link: sql.Link, expires_at: str) -> str:
        """Seal the pre-fill under a fresh token and hand it to the portal."""
        token = links.new_token(link.id)
        prefill = Prefill.from_dict(link.prefill)
        await self.portal_links.publish(
            PortalLink(
                id=link.id,
                tenant=link.tenant,
                form_slug=link.form_slug,
                form_version=link.form_version,
                token_hash=crypto.token_hash(token),
                sealed_prefill=crypto.encrypt_for_link(
                    token, link.id, prefill.to_json()
                ),
                expires_at=expires_at,
            )
        )
        return token

    def _mail(
        self, link: sql.Link, token: str, form_title: str, expires: str, reminder: bool
    ):
        context = {
            "url": f"{self.config.public_url}/l/{token}",
            "expires": german(expires),
            "form_title": form_title,
            "receipt": link.prefill.get("receipt", ""),
            "due": german_day(due) if (due := link.prefill.get("due")) else "",
            "reminder": reminder,
        }
        tenant = self.tenants[link.tenant]
        return self.templates.message(
            tenant, TEMPLATES.get(link.kind, "link_contract"), link.recipient, context
        )

    # Reminders of queries, halfway to their expiry.

    def _schedule_reminder(self, link: sql.Link) -> None:
        # Limitation: a query is reminded once, halfway to its expiry, under a
        # new token that stops the first; a customer midway through the old
        # link must then open the one in the reminder.
        if link.kind != "query" or link.reminded_at:
            return
        created = datetime.fromisoformat(link.created_at)
        when = created + (datetime.fromisoformat(link.expires_at) - created) / 2
        self.scheduler.schedule(
            f"link-reminder:{link.id}", when, lambda: self.remind(link.id)
        )

    async def remind(self, link_id: str) -> None:
        """Remind the customer of a query that still waits, under a new token."""
        link = await self.store.link(link_id)
        if link and link.state in ("sent", "opened") and not link.reminded_at:
            await self.resend(link_id, reminder=True)

    # Orders past their date window.

    def _schedule_overdue(self, link: sql.Link) -> None:
        due = link.prefill.get("due")
        if link.kind != "order" or not due:
            return
        day_after = datetime.combine(
            date.fromisoformat(due) + timedelta(days=1), time(), tzinfo=BERLIN
        )
        self.scheduler.schedule(
            f"link-overdue:{link.id}", day_after, lambda: self.mark_overdue(link.id)
        )

    async def mark_overdue(self, link_id: str) -> None:
        """Mark an order overdue that has not come back within its date window."""
        async with self.db.transaction() as conn:
            row = await sql.link_state(conn, link_id)
            if row and row["state"] in ("created", "sent", "opened", "failed"):
                await sql.set_link_state(conn, link_id, "overdue", iso(utcnow()))
                log.info("Order link %s is overdue", link_id)
        self.states_changed.set()

    async def resume(self) -> None:
        """Schedule reminders of waiting queries and the ends of orders' windows."""
        for link in await self.store.waiting():
            self._schedule_reminder(link)
            self._schedule_overdue(link)

    # What the outbox and the portal tell about each link.

    async def _on_mail(self, conn, link_id: str, outcome: str, reason: str) -> None:
        row = await sql.link_state(conn, link_id)
        now = iso(utcnow())
        if row is None:
            return
        if outcome == "sent" and row["state"] == "created":
            await sql.set_link_state(conn, link_id, "sent", now)
        elif outcome == "sent":
            # The mail went after the link moved on (an order already overdue,
            # say): the history tells it, the state it reached stays.
            await sql.note_history(conn, link_id, "sent", now, "")
        elif outcome == "failed" and row["state"] not in FINAL_STATES:
            await sql.set_link_state(conn, link_id, "failed", now, reason)
        self.states_changed.set()

    async def apply_events(self) -> int:
        """Take what happened to links on the portal; return how many events."""
        events = await self.portal_links.take_events()
        if not events:
            return 0
        async with self.db.transaction() as conn:
            for event in events:
                row = await sql.link_state(conn, event.link_id)
                if row is None:
                    continue
                if event.event == "returned" and row["state"] not in FINAL_STATES:
                    # The portal took the send; the record follows when the
                    # receiver (ours or MODWORK) has it.
                    await sql.set_link_state(conn, event.link_id, "returned", event.at)
                elif event.event == "opened" and row["state"] in ("created", "sent"):
                    await sql.set_link_state(conn, event.link_id, "opened", event.at)
                elif event.event == "locked" and row["state"] not in FINAL_STATES:
                    await sql.set_link_state(
                        conn,
                        event.link_id,
                        "revoked",
                        event.at,
                        LOCKED,
                        None,
                        LOCKED_NOTE,
                    )
                elif event.event == "expired" and row["state"] not in FINAL_STATES:
                    await sql.set_link_state(conn, event.link_id, "expired", event.at)
                    if row["kind"] in ANSWERS:
                        await sql.set_record_status(
                            conn, row["record_id"], "in_progress"
                        )
        await self.portal_links.acknowledge_events(events[-1].seq)
        if any(event.event != "opened" for event in events):
            await self._fold_wal()
        self.states_changed.set()
        return len(events)

    async def run(self) -> None:
        """Follow the portal's link events as they happen, forever."""
        changed = self.portal_links.changed
        while True:
            changed.clear()
            step = asyncio.ensure_future(self.apply_events())
            try:
                await asyncio.shield(step)
            except asyncio.CancelledError:
                # Let the step in flight finish, so that no query is left
                # half-read on a connection that is about to close.
                await step
                raise
            except Exception:
                log.error("Taking link events failed; retrying", exc_info=True)
                await asyncio.sleep(5)
                continue
            await changed.wait()


def open_links(
    config: Config,
    portal,
    backoffice: BackOffice,
    tenants: dict,
    scheduler: Scheduler,
    theme_of=None,
) -> tuple[PortalLinks, Outbox, LinkOffice]:
    """Build both sides' link services and the outbox that carries their mail."""
    portal_links = PortalLinks(portal, scheduler)
    # Limitation: the outbox key lies in the same data folder as the database
    # it protects, so it guards a copy of the database alone (a backup), not
    # a copy of the whole folder.
    outbox = Outbox(
        backoffice.store.db,
        secret_file(config.backoffice_dir / "outbox.secret"),
        make_transport(config),
        scheduler,
        timedelta(hours=config.mail.give_up_hours),
    )
    office = LinkOffice(
        backoffice,
        portal_links,
        outbox,
        MailTemplates(config.themes, theme_of),
        tenants,
        config,
        scheduler,
    )
    return portal_links, outbox, office
