"""SQL of the portal's links: token hashes, sealed pre-fills and events."""

import sqlite3
from dataclasses import dataclass

import aiosqlite

from app.storage.db import Database


@dataclass(frozen=True)
class PortalLink:
    id: str
    tenant: str
    form_slug: str
    form_version: int
    token_hash: str
    sealed_prefill: bytes | None
    expires_at: str
    revoked_at: str | None = None
    used_at: str | None = None
    receipt: str | None = None
    check_failures: int = 0


@dataclass(frozen=True)
class LinkEvent:
    seq: int
    link_id: str
    event: str
    at: str


class LinkUsed(Exception):
    """The link's form was sent already: the first send stands."""


def _link(row: sqlite3.Row) -> PortalLink:
    return PortalLink(**{key: row[key] for key in row.keys()})  # noqa: SIM118


async def claim_link(
    conn: aiosqlite.Connection, link_id: str, receipt: str, now: str
) -> None:
    """Mark a link used inside the send's transaction, or raise LinkUsed."""
    cursor = await conn.execute(
        "UPDATE links SET used_at = ?, receipt = ?, sealed_prefill = NULL "
        "WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?",
        (now, receipt, link_id, now),
    )
    if cursor.rowcount != 1:
        raise LinkUsed(link_id)


class PortalLinkStore:
    """The portal's link tables, behind named operations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def publish(self, link: PortalLink) -> None:
        """Store a link the back office published; a resend replaces its token.

        A link whose form was sent stays used: a resend never brings it back.
        """
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT used_at FROM links WHERE id = ?", (link.id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None and row[0] is not None:
                raise LinkUsed(link.id)
            await conn.execute(
                "INSERT OR REPLACE INTO links VALUES (?,?,?,?,?,?,?,NULL,NULL,NULL,0)",
                (
                    link.id,
                    link.tenant,
                    link.form_slug,
                    link.form_version,
                    link.token_hash,
                    link.sealed_prefill,
                    link.expires_at,
                ),
            )

    async def link(self, link_id: str) -> PortalLink | None:
        """Return one link."""
        row = await self.db.fetchone("SELECT * FROM links WHERE id = ?", (link_id,))
        return _link(row) if row else None

    async def used_by(self, tenant: str, receipt: str) -> str | None:
        """Return the id of the tenant's link whose form came back as a receipt."""
        row = await self.db.fetchone(
            "SELECT id FROM links WHERE tenant = ? AND receipt = ?", (tenant, receipt)
        )
        return row["id"] if row else None

    async def count_check_failure(self, link_id: str) -> int:
        """Count one wrong answer to a link's check; return how many there were."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE links SET check_failures = check_failures + 1 WHERE id = ?",
                (link_id,),
            )
            async with conn.execute(
                "SELECT check_failures FROM links WHERE id = ?", (link_id,)
            ) as cursor:
                (failures,) = await cursor.fetchone()
        return failures

    async def open_links(self) -> list[PortalLink]:
        """Return every link whose sealed pre-fill is still kept."""
        rows = await self.db.fetchall(
            "SELECT * FROM links WHERE sealed_prefill IS NOT NULL"
        )
        return [_link(row) for row in rows]

    async def forget_prefill(
        self, link_id: str, now: str, revoked: bool, event: str | None
    ) -> None:
        """Delete a link's sealed pre-fill, marking it revoked or noting an event."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE links SET sealed_prefill = NULL, "
                "revoked_at = CASE WHEN ? THEN ? ELSE revoked_at END WHERE id = ?",
                (revoked, now, link_id),
            )
            if event:
                await self.add_event(conn, link_id, event, now)
        await self.db.checkpoint()

    async def add_event(
        self, conn: aiosqlite.Connection, link_id: str, event: str, now: str
    ) -> None:
        """Note what happened to a link, for the back office to take."""
        await conn.execute(
            "INSERT INTO link_events (link_id, event, at) VALUES (?,?,?)",
            (link_id, event, now),
        )

    async def note(self, link_id: str, event: str, now: str) -> None:
        """Note an event in a transaction of its own."""
        async with self.db.transaction() as conn:
            await self.add_event(conn, link_id, event, now)

    async def events(self, limit: int = 500) -> list[LinkEvent]:
        """Return the oldest events the back office has not taken yet."""
        rows = await self.db.fetchall(
            "SELECT * FROM link_events ORDER BY seq LIMIT ?", (limit,)
        )
        return [LinkEvent(r["seq"], r["link_id"], r["event"], r["at"]) for r in rows]

    async def delete_events(self, up_to: int) -> None:
        """Forget the events the back office took."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM link_events WHERE seq <= ?", (up_to,))
