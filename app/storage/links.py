"""SQL of the back office's links, their history, and revisions of records."""

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from app.links import FINAL_STATES
from app.storage.db import Database


@dataclass(frozen=True)
class Link:
    id: str
    tenant: str
    form_slug: str
    form_version: int
    kind: str
    record_id: int | None
    recipient: str
    # None once the link is over: only a live link keeps what it carries.
    prefill: dict | None
    state: str
    failure: str | None
    created_by: str
    created_at: str
    expires_at: str
    changed_at: str
    reminded_at: str | None = None
    record_ref: str = ""


def _link(row: sqlite3.Row) -> Link:
    data = {key: row[key] for key in row.keys()}  # noqa: SIM118
    if data["prefill"] is not None:
        data["prefill"] = json.loads(data["prefill"])
    return Link(**data)


async def insert_link(conn: aiosqlite.Connection, link: Link) -> None:
    """Store a new link and the first step of its history."""
    await conn.execute(
        "INSERT INTO links VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            link.id,
            link.tenant,
            link.form_slug,
            link.form_version,
            link.kind,
            link.record_id,
            link.recipient,
            json.dumps(link.prefill, ensure_ascii=False),
            link.state,
            link.failure,
            link.created_by,
            link.created_at,
            link.expires_at,
            link.changed_at,
            link.reminded_at,
            link.record_ref,
        ),
    )
    await conn.execute(
        "INSERT INTO link_history VALUES (?,?,?,?)",
        (link.id, link.state, link.created_at, ""),
    )


async def set_link_state(
    conn: aiosqlite.Connection,
    link_id: str,
    state: str,
    now: str,
    failure: str | None = None,
    expires_at: str | None = None,
    note: str = "",
) -> None:
    """Move a link to a state and note it in its history.

    A link in a final state drops its pre-fill: what it carried was sent,
    came back or is no longer wanted, and the back office keeps no copy.
    """
    await conn.execute(
        "UPDATE links SET state = ?, failure = ?, changed_at = ?, "
        "expires_at = coalesce(?, expires_at), "
        "prefill = CASE WHEN ? THEN NULL ELSE prefill END WHERE id = ?",
        (state, failure, now, expires_at, state in FINAL_STATES, link_id),
    )
    await note_history(conn, link_id, state, now, note)


async def note_history(
    conn: aiosqlite.Connection, link_id: str, state: str, now: str, note: str
) -> None:
    """Note a step in a link's history that leaves its current state alone."""
    await conn.execute(
        "INSERT INTO link_history VALUES (?,?,?,?)", (link_id, state, now, note)
    )


async def mark_reminded(conn: aiosqlite.Connection, link_id: str, now: str) -> None:
    """Note that a link's reminder went into the outbox."""
    await conn.execute("UPDATE links SET reminded_at = ? WHERE id = ?", (now, link_id))


async def link_state(conn: aiosqlite.Connection, link_id: str) -> sqlite3.Row | None:
    """Return a link's kind, state and record inside a transaction."""
    async with conn.execute(
        "SELECT kind, state, record_id FROM links WHERE id = ?", (link_id,)
    ) as cursor:
        return await cursor.fetchone()


async def add_revision(
    conn: aiosqlite.Connection,
    record_id: int,
    submission_id: str,
    link_id: str,
    receipt: str,
    received_at: str,
    values: dict[str, str],
) -> None:
    """Lay a correction over a record, keeping what changed field by field."""
    async with conn.execute(
        "SELECT field_values FROM records WHERE id = ?", (record_id,)
    ) as cursor:
        (stored,) = await cursor.fetchone()
    old = json.loads(stored)
    changes = [
        [name, old.get(name, ""), value]
        for name, value in values.items()
        if old.get(name, "") != value
    ]
    await conn.execute(
        "INSERT INTO revisions (record_id, submission_id, link_id, receipt, "
        "received_at, changes) VALUES (?,?,?,?,?,?)",
        (
            record_id,
            submission_id,
            link_id,
            receipt,
            received_at,
            json.dumps(changes, ensure_ascii=False),
        ),
    )
    await conn.execute(
        "UPDATE records SET field_values = ?, status = 'in_progress' WHERE id = ?",
        (json.dumps({**old, **values}, ensure_ascii=False), record_id),
    )


async def set_record_status(
    conn: aiosqlite.Connection, record_id: int, status: str
) -> None:
    """Change a record's status inside the caller's transaction."""
    await conn.execute(
        "UPDATE records SET status = ? WHERE id = ?", (status, record_id)
    )


class LinkStore:
    """The back office's links, behind named operations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def link(self, link_id: str) -> Link | None:
        """Return one link."""
        row = await self.db.fetchone("SELECT * FROM links WHERE id = ?", (link_id,))
        return _link(row) if row else None

    async def links(
        self, tenants: Sequence[str] | None, state: str = "", limit: int = 200
    ) -> list[Link]:
        """Return links newest first, for some tenants and perhaps one state."""
        where, params = ["1 = 1"], []
        if tenants is not None:
            where.append(f"tenant IN ({','.join('?' * len(tenants))})")
            params.extend(tenants)
        if state:
            where.append("state = ?")
            params.append(state)
        rows = await self.db.fetchall(
            f"SELECT * FROM links WHERE {' AND '.join(where)} "  # noqa: S608
            "ORDER BY created_at DESC LIMIT ?",
            [*params, limit],
        )
        return [_link(row) for row in rows]

    async def links_of_record(self, record_id: int) -> list[Link]:
        """Return the queries and orders sent for a record, newest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM links WHERE record_id = ? ORDER BY created_at DESC",
            (record_id,),
        )
        return [_link(row) for row in rows]

    async def waiting(self) -> list[Link]:
        """Return every link that may still come back."""
        rows = await self.db.fetchall(
            "SELECT * FROM links WHERE state IN ('created', 'sent', 'opened')"
        )
        return [_link(row) for row in rows]

    async def history(self, link_id: str) -> list[sqlite3.Row]:
        """Return the states a link went through, oldest first."""
        return await self.db.fetchall(
            "SELECT state, at, note FROM link_history WHERE link_id = ? ORDER BY rowid",
            (link_id,),
        )

    async def history_since(
        self, tenant: str, after: int, limit: int = 100
    ) -> list[sqlite3.Row]:
        """Return a tenant's state changes noted after a history row, oldest first."""
        return await self.db.fetchall(
            "SELECT h.rowid AS seq, h.link_id, h.state, h.at "
            "FROM link_history AS h JOIN links AS l ON l.id = h.link_id "
            "WHERE l.tenant = ? AND h.rowid > ? ORDER BY h.rowid LIMIT ?",
            (tenant, after, limit),
        )

    async def last_history_row(self) -> int:
        """Return the newest history row's number, 0 when there is none."""
        row = await self.db.fetchone("SELECT max(rowid) AS seq FROM link_history")
        return row["seq"] or 0

    async def revisions(self, record_id: int) -> list[sqlite3.Row]:
        """Return a record's corrections, oldest first."""
        return await self.db.fetchall(
            "SELECT * FROM revisions WHERE record_id = ? ORDER BY id", (record_id,)
        )

    async def record_of_link(self, link_id: str) -> int | None:
        """Return the record that a link's returned form became."""
        row = await self.db.fetchone(
            "SELECT id FROM records WHERE link_id = ?", (link_id,)
        )
        return row["id"] if row else None

    async def latest_forms(self, tenants: Sequence[str] | None) -> list[sqlite3.Row]:
        """Return each form's newest version with its definition."""
        rows = await self.db.fetchall(
            "SELECT tenant, slug, version, definition FROM forms "
            "JOIN form_versions ON form_id = forms.id "
            "WHERE version = (SELECT max(version) FROM form_versions v "
            "WHERE v.form_id = forms.id) ORDER BY tenant, slug"
        )
        return [r for r in rows if tenants is None or r["tenant"] in tenants]
