"""SQL of the built-in back office: clerks, sessions, forms and records."""

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.links import ANSWERS
from app.storage import links
from app.storage.db import Database


@dataclass(frozen=True)
class Clerk:
    id: int
    name: str
    tenants: tuple[str, ...] | None  # None: every tenant

    def may_see(self, tenant: str) -> bool:
        """Say whether the clerk works for a tenant."""
        return self.tenants is None or tenant in self.tenants


@dataclass(frozen=True)
class NewAttachment:
    id: str
    field: str
    filename: str
    content_type: str
    size: int


@dataclass(frozen=True)
class NewRecord:
    submission_id: str
    tenant: str
    record_type: str
    form_slug: str
    form_version: int
    form_title: str
    receipt: str
    received_at: str
    taken_at: str
    values: dict[str, str]
    attachments: tuple[NewAttachment, ...]
    link_id: str | None = None
    test: bool = False
    # Shown to the clerk: why the record was filed other than usual.
    note: str = ""


NO_RECORD = (
    "Antwort auf eine Rückfrage oder einen Auftrag, zu dem es hier keinen Vorgang "
    "gibt (wohl über die Schnittstelle für MODWORK erstellt); als eigener Vorgang "
    "abgelegt."
)


async def _record_exists(conn, record_id: int | None) -> bool:
    if record_id is None:
        return False
    async with conn.execute("SELECT 1 FROM records WHERE id = ?", (record_id,)) as c:
        return await c.fetchone() is not None


def _clerk(row: sqlite3.Row) -> Clerk:
    tenants = json.loads(row["tenants"])
    return Clerk(row["id"], row["name"], None if tenants == "*" else tuple(tenants))


class BackOfficeStore:
    """The back-office database, behind named operations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # Clerks and sessions.

    async def clerk_count(self) -> int:
        """Return how many clerks exist."""
        row = await self.db.fetchone("SELECT count(*) AS n FROM clerks")
        return row["n"]

    async def save_clerk(
        self, name: str, password_hash: str, tenants: Sequence[str] | None, now: str
    ) -> bool:
        """Create a clerk or reset its password; return True if it was new."""
        stored = json.dumps("*" if tenants is None else list(tenants))
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE clerks SET password_hash = ?, tenants = ? WHERE name = ?",
                (password_hash, stored, name),
            )
            if cursor.rowcount:
                await conn.execute(
                    "DELETE FROM sessions WHERE clerk_id = "
                    "(SELECT id FROM clerks WHERE name = ?)",
                    (name,),
                )
                return False
            await conn.execute(
                "INSERT INTO clerks (name, password_hash, tenants, created_at) "
                "VALUES (?,?,?,?)",
                (name, password_hash, stored, now),
            )
            return True

    async def add_first_clerk(self, name: str, password_hash: str, now: str) -> bool:
        """Create a clerk for every tenant only while no clerk exists at all."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO clerks (name, password_hash, tenants, created_at) "
                "SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM clerks)",
                (name, password_hash, json.dumps("*"), now),
            )
            return cursor.rowcount == 1

    async def password_hash(self, name: str) -> tuple[Clerk, str] | None:
        """Return a clerk and its password hash, for checking a login."""
        row = await self.db.fetchone("SELECT * FROM clerks WHERE name = ?", (name,))
        return (_clerk(row), row["password_hash"]) if row else None

    async def add_session(
        self, token_hash: str, clerk_id: int, now: str, expires: str
    ) -> None:
        """Store a session by the hash of its token."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            await conn.execute(
                "INSERT INTO sessions VALUES (?,?,?,?)",
                (token_hash, clerk_id, now, expires),
            )

    async def session_clerk(self, token_hash: str, now: str) -> Clerk | None:
        """Return the clerk of a live session."""
        row = await self.db.fetchone(
            "SELECT clerks.* FROM sessions JOIN clerks ON clerks.id = clerk_id "
            "WHERE token_hash = ? AND expires_at > ?",
            (token_hash, now),
        )
        return _clerk(row) if row else None

    async def end_session(self, token_hash: str) -> None:
        """Delete a session on the server."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM sessions WHERE token_hash = ?", (token_hash,)
            )

    # Forms and their versions.

    async def form_count(self) -> int:
        """Return how many forms exist."""
        row = await self.db.fetchone("SELECT count(*) AS n FROM forms")
        return row["n"]

    async def form_definition(self, tenant: str, slug: str, version: int) -> str | None:
        """Return the stored definition of one form version."""
        row = await self.db.fetchone(
            "SELECT definition FROM form_versions JOIN forms ON forms.id = form_id "
            "WHERE tenant = ? AND slug = ? AND version = ?",
            (tenant, slug, version),
        )
        return row["definition"] if row else None

    # Records.

    async def taken_submissions(self, ids: Sequence[str]) -> set[str]:
        """Return which of these submissions are records already."""
        marks = ",".join("?" * len(ids))
        rows = await self.db.fetchall(
            f"SELECT submission_id FROM records WHERE submission_id IN ({marks}) "  # noqa: S608
            "UNION SELECT submission_id FROM revisions "
            f"WHERE submission_id IN ({marks})",
            [*ids, *ids],
        )
        return {row["submission_id"] for row in rows}

    async def add_records(self, records: Sequence[NewRecord], within=None) -> None:
        """Commit a batch of records with their attachments, in one transaction.

        `within(conn)` runs last in the same transaction: what records cause,
        such as a confirmation mail, is committed with them or not at all.
        """
        async with self.db.transaction() as conn:
            for record in records:
                record_id = await self._add_record(conn, record)
                await conn.executemany(
                    "INSERT INTO attachments VALUES (?,?,?,?,?,?)",
                    [
                        (a.id, record_id, a.field, a.filename, a.content_type, a.size)
                        for a in record.attachments
                    ],
                )
            if within is not None:
                await within(conn)

    async def _add_record(self, conn, record: NewRecord) -> int:
        """Insert a record, or lay a query's answer over the record it asked."""
        link = await links.link_state(conn, record.link_id) if record.link_id else None
        # The portal's event of the send may have noted the return already.
        if link is not None and link["state"] != "returned":
            await links.set_link_state(
                conn, record.link_id, "returned", record.taken_at
            )
        if link is not None and link["kind"] in ANSWERS and not record.note:
            if not await _record_exists(conn, link["record_id"]):
                # A query or order made through the API has its record in
                # MODWORK: its answer here becomes a record of its own.
                return await self._add_record(conn, replace(record, note=NO_RECORD))
            await links.add_revision(
                conn,
                link["record_id"],
                record.submission_id,
                record.link_id,
                record.receipt,
                record.received_at,
                record.values,
            )
            return link["record_id"]
        cursor = await conn.execute(
            "INSERT INTO records (submission_id, tenant, record_type, "
            "form_slug, form_version, form_title, receipt, received_at, "
            "taken_at, field_values, link_id, test, intake_note) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record.submission_id,
                record.tenant,
                record.record_type,
                record.form_slug,
                record.form_version,
                record.form_title,
                record.receipt,
                record.received_at,
                record.taken_at,
                json.dumps(record.values, ensure_ascii=False),
                record.link_id,
                int(record.test),
                record.note,
            ),
        )
        return cursor.lastrowid

    async def records(
        self,
        tenants: Sequence[str] | None,
        receipt: str = "",
        status: str = "",
        limit: int = 200,
        tests: bool = False,
    ) -> list[sqlite3.Row]:
        """Return records newest first, for some tenants, by receipt or status.

        A receipt finds its record, or the record that an answer or an order's
        result with that receipt came back to; `return_at` then tells when
        that return arrived. Records of test submissions come only when
        `tests` asks for them.
        """
        where, params = ["1 = 1" if tests else "test = 0"], []
        if tenants is not None:
            where.append(f"tenant IN ({','.join('?' * len(tenants))})")
            params.extend(tenants)
        if receipt:
            where.append(
                "(receipt = ? OR id IN "
                "(SELECT record_id FROM revisions WHERE receipt = ?))"
            )
            params.extend([receipt, receipt])
        if status:
            where.append("status = ?")
            params.append(status)
        sql = (
            "SELECT *, (SELECT received_at FROM revisions AS r "  # noqa: S608
            "WHERE r.record_id = records.id AND r.receipt = ?) AS return_at "
            f"FROM records WHERE {' AND '.join(where)} "
            "ORDER BY received_at DESC, id DESC LIMIT ?"
        )
        return await self.db.fetchall(sql, [receipt, *params, limit])

    async def record(self, record_id: int) -> sqlite3.Row | None:
        """Return one record."""
        return await self.db.fetchone(
            "SELECT * FROM records WHERE id = ?", (record_id,)
        )

    async def attachments(self, record_id: int) -> list[sqlite3.Row]:
        """Return a record's attachments in the order they came."""
        return await self.db.fetchall(
            "SELECT * FROM attachments WHERE record_id = ? ORDER BY rowid",
            (record_id,),
        )

    async def attachment_ids(self) -> set[str]:
        """Return the id of every stored attachment."""
        return {r["id"] for r in await self.db.fetchall("SELECT id FROM attachments")}

    async def set_status(self, record_id: int, status: str) -> None:
        """Change a record's status."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE records SET status = ? WHERE id = ?", (status, record_id)
            )
