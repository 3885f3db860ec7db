"""The durable outbox: mails queued with what caused them, sent in the background.

A mail is sealed and queued in the same transaction as the change that
caused it. The scheduler then tries it; a temporary failure (relay down, a
4xx answer) postpones it with a growing pause, a 5xx answer or the end of
the give-up time ends it as failed. Either way the row goes, so a mail that
was sent or given up leaves nothing behind.
"""

import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP

import aiosqlite

from app import crypto
from app.clock import iso, utcnow
from app.mail.transport import PermanentFailure, TemporaryFailure
from app.storage.db import Database
from app.storage.outbox import OutboxStore, delete_mail, queue_mail
from app.timers import Scheduler

log = logging.getLogger(__name__)

FIRST_RETRY_S = 30
MAX_RETRY_S = 3600
KIND = "mail"

# Called inside the transaction that removes a mail: (conn, link id, outcome,
# reason), outcome "sent" or "failed".
Listener = Callable[[aiosqlite.Connection, str, str, str], Awaitable[None]]


def retry_delay(attempts: int) -> timedelta:
    """Return the pause after a number of failed attempts: 30 s doubling to 1 h."""
    return timedelta(
        seconds=min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), MAX_RETRY_S)
    )


class Outbox:
    """Seal, queue and deliver mails; tell a listener what became of each."""

    def __init__(
        self,
        db: Database,
        key: bytes,
        transport,
        scheduler: Scheduler,
        give_up: timedelta,
    ) -> None:
        self.db = db
        self.store = OutboxStore(db)
        self.key = key
        self.transport = transport
        self.scheduler = scheduler
        self._delivering: set[str] = set()
        self.give_up = give_up
        self.listeners: list[Listener] = []

    async def queue(
        self, conn: aiosqlite.Connection, message: EmailMessage, link_id: str | None
    ) -> str:
        """Seal a mail and queue it inside the caller's transaction; return its id."""
        mail_id = secrets.token_hex(12)
        sealed = crypto.encrypt_stored(self.key, KIND, mail_id, message.as_bytes())
        await queue_mail(conn, mail_id, link_id, sealed, iso(utcnow()))
        return mail_id

    def schedule(self, mail_id: str, when: datetime | None = None) -> None:
        """Try a queued mail at a time, by default now."""
        self.scheduler.schedule(
            f"mail:{mail_id}", when or utcnow(), lambda: self.deliver(mail_id)
        )

    async def resume(self) -> None:
        """Schedule every mail that waited while the server was down."""
        waiting = await self.store.waiting()
        for mail in waiting:
            self.schedule(mail.id, datetime.fromisoformat(mail.next_attempt_at))
        log.info("Outbox holds %s mails", len(waiting))

    async def deliver(self, mail_id: str) -> None:
        """Try one mail once; on failure postpone it or give it up."""
        # Limitation: the scheduler runs its actions one after another, so a
        # relay that accepts the connection but stalls holds every other
        # timer back for up to mail.timeout_seconds.
        if mail_id in self._delivering:
            return  # a try of this mail is under way; it decides
        self._delivering.add(mail_id)
        try:
            await self._deliver(mail_id)
        finally:
            self._delivering.discard(mail_id)

    async def _deliver(self, mail_id: str) -> None:
        mail = await self.store.mail(mail_id)
        if mail is None:
            return
        raw = crypto.decrypt_stored(self.key, KIND, mail.id, mail.sealed_mail)
        message = message_from_bytes(raw, policy=SMTP)
        try:
            await self.transport.deliver(message)
        except TemporaryFailure as error:
            await self._postpone(mail, str(error))
            return
        except PermanentFailure as error:
            log.warning("Mail %s was refused for good: %s", mail.id, error)
            reason = f"Der Mailserver hat die E-Mail abgewiesen ({error.code})."
            await self._finish(mail, "failed", reason)
            return
        log.info("Sent mail %s", mail.id)
        await self._finish(mail, "sent", "")

    async def _postpone(self, mail, error: str) -> None:
        now = utcnow()
        attempts = mail.attempts + 1
        if now - datetime.fromisoformat(mail.created_at) >= self.give_up:
            log.warning("Gave up mail %s after %s attempts", mail.id, attempts)
            hours = round(self.give_up.total_seconds() / 3600)
            reason = f"Die E-Mail war {hours} Stunden lang nicht zustellbar."
            await self._finish(mail, "failed", reason)
            return
        when = now + retry_delay(attempts)
        await self.store.postpone(mail.id, iso(when), error)
        log.warning("Mail %s not sent (%s); next try at %s", mail.id, error, iso(when))
        self.schedule(mail.id, when)

    async def _finish(self, mail, outcome: str, reason: str) -> None:
        async with self.db.transaction() as conn:
            await delete_mail(conn, mail.id)
            if mail.link_id:
                for listener in self.listeners:
                    await listener(conn, mail.link_id, outcome, reason)
        await self.db.checkpoint()
