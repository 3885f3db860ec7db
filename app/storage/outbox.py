"""SQL of the outbox: sealed mails waiting in the back office's database."""

import sqlite3
from dataclasses import dataclass

import aiosqlite

from app.storage.db import Database


@dataclass(frozen=True)
class QueuedMail:
    id: str
    link_id: str | None
    sealed_mail: bytes
    attempts: int
    next_attempt_at: str
    created_at: str


def _queued(row: sqlite3.Row) -> QueuedMail:
    return QueuedMail(
        row["id"],
        row["link_id"],
        row["sealed_mail"],
        row["attempts"],
        row["next_attempt_at"],
        row["created_at"],
    )


async def queue_mail(
    conn: aiosqlite.Connection,
    mail_id: str,
    link_id: str | None,
    sealed_mail: bytes,
    now: str,
) -> None:
    """Queue a sealed mail inside the caller's transaction."""
    await conn.execute(
        "INSERT INTO outbox (id, link_id, sealed_mail, next_attempt_at, created_at) "
        "VALUES (?,?,?,?,?)",
        (mail_id, link_id, sealed_mail, now, now),
    )


async def delete_mail(conn: aiosqlite.Connection, mail_id: str) -> None:
    """Delete a queued mail inside the caller's transaction."""
    await conn.execute("DELETE FROM outbox WHERE id = ?", (mail_id,))


async def delete_mails_of_link(conn: aiosqlite.Connection, link_id: str) -> None:
    """Delete a link's mails that still wait, inside the caller's transaction."""
    await conn.execute("DELETE FROM outbox WHERE link_id = ?", (link_id,))


class OutboxStore:
    """The outbox table, behind named operations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def mail(self, mail_id: str) -> QueuedMail | None:
        """Return one queued mail."""
        row = await self.db.fetchone("SELECT * FROM outbox WHERE id = ?", (mail_id,))
        return _queued(row) if row else None

    async def waiting(self) -> list[QueuedMail]:
        """Return every queued mail, the next one due first."""
        rows = await self.db.fetchall("SELECT * FROM outbox ORDER BY next_attempt_at")
        return [_queued(row) for row in rows]

    async def postpone(self, mail_id: str, next_attempt_at: str, error: str) -> None:
        """Count a failed attempt and set the time of the next one."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, "
                "last_error = ? WHERE id = ?",
                (next_attempt_at, error, mail_id),
            )
