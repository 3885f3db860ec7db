"""SQL of the back office's forms: versions, publications, deletion, events."""

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.clock import iso
from app.forms.lifecycle import Publication
from app.storage.db import Database


@dataclass(frozen=True)
class FormRow:
    id: int
    tenant: str
    slug: str
    created_at: str
    deleted_at: str | None
    last_version: int


@dataclass(frozen=True)
class VersionRow:
    version: int
    definition: str
    created_by: str
    created_at: str
    note: str


@dataclass(frozen=True)
class EventRow:
    at: str
    event: str
    version: int | None
    clerk: str


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _publication(row: sqlite3.Row) -> Publication:
    return Publication(
        version=row["version"],
        start=datetime.fromisoformat(row["publish_from"]),
        until=_moment(row["publish_until"]),
        by=row["published_by"],
        at=datetime.fromisoformat(row["published_at"]),
        start_noted=bool(row["start_noted"]),
        end_noted=bool(row["end_noted"]),
    )


def _version(row: sqlite3.Row) -> VersionRow:
    return VersionRow(
        row["version"],
        row["definition"],
        row["created_by"],
        row["created_at"],
        row["note"],
    )


_FORMS = """
    SELECT forms.*, (SELECT max(version) FROM form_versions
                     WHERE form_id = forms.id) AS last_version
    FROM forms
"""


def _form(row: sqlite3.Row) -> FormRow:
    return FormRow(
        row["id"],
        row["tenant"],
        row["slug"],
        row["created_at"],
        row["deleted_at"],
        row["last_version"] or 0,
    )


class FormStore:
    """The back office's forms, behind named operations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def forms(self, tenants: Sequence[str] | None) -> list[FormRow]:
        """Return the forms of some tenants (None: all), by tenant and slug."""
        where, params = "", []
        if tenants is not None:
            where = f"WHERE tenant IN ({','.join('?' * len(tenants))})"
            params = list(tenants)
        rows = await self.db.fetchall(f"{_FORMS} {where} ORDER BY tenant, slug", params)
        return [_form(row) for row in rows]

    async def form(self, tenant: str, slug: str) -> FormRow | None:
        """Return one form, deleted or not."""
        row = await self.db.fetchone(
            f"{_FORMS} WHERE tenant = ? AND slug = ?", (tenant, slug)
        )
        return _form(row) if row else None

    async def add_version(
        self,
        tenant: str,
        slug: str,
        definition: str,
        clerk: str,
        now: str,
        note: str = "",
    ) -> int:
        """Store a new version of a form, creating the form; return its number."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO forms (tenant, slug, created_at) VALUES (?,?,?)",
                (tenant, slug, now),
            )
            async with conn.execute(
                "SELECT id, (SELECT coalesce(max(version), 0) FROM form_versions "
                "WHERE form_id = forms.id) AS last FROM forms "
                "WHERE tenant = ? AND slug = ?",
                (tenant, slug),
            ) as cursor:
                form_id, last = await cursor.fetchone()
            await conn.execute(
                "INSERT INTO form_versions (form_id, version, definition, "
                "created_by, created_at, note) VALUES (?,?,?,?,?,?)",
                (form_id, last + 1, definition, clerk, now, note),
            )
            await _add_event(conn, form_id, now, "saved", last + 1, clerk)
            return last + 1

    async def versions(self, form_id: int) -> list[VersionRow]:
        """Return every version of a form, newest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM form_versions WHERE form_id = ? ORDER BY version DESC",
            (form_id,),
        )
        return [_version(row) for row in rows]

    async def version(self, form_id: int, number: int) -> VersionRow | None:
        """Return one version of a form."""
        row = await self.db.fetchone(
            "SELECT * FROM form_versions WHERE form_id = ? AND version = ?",
            (form_id, number),
        )
        return _version(row) if row else None

    async def publications(self, form_id: int) -> list[Publication]:
        """Return a form's publications in the order they begin."""
        rows = await self.db.fetchall(
            "SELECT * FROM form_publications WHERE form_id = ? ORDER BY publish_from",
            (form_id,),
        )
        return [_publication(row) for row in rows]

    async def all_publications(self) -> dict[int, list[Publication]]:
        """Return every form's publications, by form id."""
        found: dict[int, list[Publication]] = {}
        for row in await self.db.fetchall(
            "SELECT * FROM form_publications ORDER BY form_id, publish_from"
        ):
            found.setdefault(row["form_id"], []).append(_publication(row))
        return found

    async def save_schedule(
        self,
        form_id: int,
        publications: Sequence[Publication],
        event: tuple[str, str, int | None, str] | None = None,
        deleted_at: str | None | bool = False,
    ) -> None:
        """Replace a form's publications whole, with an event and its deletion.

        `event` is (at, event, version, clerk); `deleted_at` False leaves the
        deletion as it is, None undoes it, a time sets it.
        """
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM form_publications WHERE form_id = ?", (form_id,)
            )
            await conn.executemany(
                "INSERT INTO form_publications VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        form_id,
                        p.version,
                        iso(p.start),
                        iso(p.until) if p.until else None,
                        p.by,
                        iso(p.at),
                        int(p.start_noted),
                        int(p.end_noted),
                    )
                    for p in publications
                ],
            )
            if deleted_at is not False:
                await conn.execute(
                    "UPDATE forms SET deleted_at = ? WHERE id = ?",
                    (deleted_at, form_id),
                )
            if event is not None:
                await _add_event(conn, form_id, *event)

    async def note_happened(
        self, form_id: int, version: int, column: str, event: str, at: str
    ) -> None:
        """Mark a publication's start or end as happened, with its event."""
        if column not in ("start_noted", "end_noted"):
            raise ValueError(column)
        async with self.db.transaction() as conn:
            await conn.execute(
                f"UPDATE form_publications SET {column} = 1 "  # noqa: S608
                "WHERE form_id = ? AND version = ?",
                (form_id, version),
            )
            await _add_event(conn, form_id, at, event, version, "system")

    async def events(self, form_id: int, limit: int = 50) -> list[EventRow]:
        """Return what happened to a form, newest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM form_events WHERE form_id = ? "
            "ORDER BY at DESC, id DESC LIMIT ?",
            (form_id, limit),
        )
        return [EventRow(r["at"], r["event"], r["version"], r["clerk"]) for r in rows]


async def _add_event(conn, form_id, at, event, version, clerk) -> None:
    await conn.execute(
        "INSERT INTO form_events (form_id, at, event, version, clerk) "
        "VALUES (?,?,?,?,?)",
        (form_id, at, event, version, clerk),
    )
