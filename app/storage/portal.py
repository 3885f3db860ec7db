"""SQL of the portal side: published versions and sealed pending submissions."""

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiosqlite

from app.storage.db import Database


@dataclass(frozen=True)
class PublishedVersion:
    tenant: str
    slug: str
    version: int
    definition: str
    publish_from: str | None
    publish_until: str | None


@dataclass(frozen=True)
class SealedFile:
    file_id: str
    field: str
    sealed_size: int


@dataclass(frozen=True)
class SealedSubmission:
    id: str
    tenant: str
    form_slug: str
    form_version: int
    receiver: str
    receipt: str
    received_at: str
    sealed_key: bytes
    sealed_values: bytes
    files: tuple[SealedFile, ...]
    # Sent from a clerk's preview: marked as a test wherever it appears.
    test: bool = False


class DuplicateNonce(Exception):
    """The form instance was sent already; its first submission stands."""


_LIVE = """
    SELECT * FROM published_versions
    WHERE tenant = ? AND (publish_from IS NULL OR publish_from <= ?)
      AND (publish_until IS NULL OR publish_until > ?)
"""


def _version(row: sqlite3.Row) -> PublishedVersion:
    return PublishedVersion(
        row["tenant"],
        row["slug"],
        row["version"],
        row["definition"],
        row["publish_from"],
        row["publish_until"],
    )


def _row(version: PublishedVersion, now: str) -> tuple:
    return (
        version.tenant,
        version.slug,
        version.version,
        version.definition,
        version.publish_from,
        version.publish_until,
        now,
    )


class PortalStore:
    """The portal database, behind named operations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def publish(self, version: PublishedVersion, now: str) -> None:
        """Store a version the back office published, with its schedule."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO published_versions VALUES (?,?,?,?,?,?,?)",
                _row(version, now),
            )

    async def live_versions(self, tenant: str, now: str) -> list[PublishedVersion]:
        """Return the newest live version of each of a tenant's forms."""
        rows = await self.db.fetchall(
            _LIVE + " ORDER BY slug, version DESC", (tenant, now, now)
        )
        newest: dict[str, PublishedVersion] = {}
        for row in rows:
            newest.setdefault(row["slug"], _version(row))
        return list(newest.values())

    async def live_version(
        self, tenant: str, slug: str, now: str
    ) -> PublishedVersion | None:
        """Return the version of a form that is live now, if any."""
        row = await self.db.fetchone(
            _LIVE + " AND slug = ? ORDER BY version DESC LIMIT 1",
            (tenant, now, now, slug),
        )
        return _version(row) if row else None

    async def replace_schedule(
        self, tenant: str, slug: str, versions: Sequence[PublishedVersion], now: str
    ) -> None:
        """Make a form's published versions exactly these, in one transaction."""
        await self.replace_schedules({(tenant, slug): versions}, now)

    async def replace_schedules(
        self, schedules: dict[tuple[str, str], Sequence[PublishedVersion]], now: str
    ) -> None:
        """Make many forms' published versions exactly these, in one transaction."""
        async with self.db.transaction() as conn:
            for (tenant, slug), versions in schedules.items():
                await conn.execute(
                    "DELETE FROM published_versions WHERE tenant = ? AND slug = ?",
                    (tenant, slug),
                )
                await conn.executemany(
                    "INSERT INTO published_versions VALUES (?,?,?,?,?,?,?)",
                    [_row(v, now) for v in versions],
                )

    async def purge_ended(self, cutoff: str) -> list[tuple[str, str, int]]:
        """Forget versions that ended before a cutoff; return which they were."""
        async with (
            self.db.transaction() as conn,
            conn.execute(
                "DELETE FROM published_versions WHERE publish_until <= ? "
                "RETURNING tenant, slug, version",
                (cutoff,),
            ) as cursor,
        ):
            return [tuple(row) for row in await cursor.fetchall()]

    async def version(
        self, tenant: str, slug: str, number: int
    ) -> PublishedVersion | None:
        """Return one published version, live or not."""
        row = await self.db.fetchone(
            "SELECT * FROM published_versions WHERE tenant=? AND slug=? AND version=?",
            (tenant, slug, number),
        )
        return _version(row) if row else None

    async def receipt_for_nonce(self, nonce: str) -> tuple[str, str] | None:
        """Return receipt and time of a form instance already sent."""
        row = await self.db.fetchone(
            "SELECT receipt, received_at FROM used_nonces WHERE nonce = ?", (nonce,)
        )
        return (row["receipt"], row["received_at"]) if row else None

    async def add_submission(
        self,
        submission: SealedSubmission,
        nonce: str,
        nonce_expires: str,
        within: Callable[[aiosqlite.Connection], Awaitable[None]] | None = None,
    ) -> None:
        """Commit a sealed submission whole, with its files and its nonce.

        `within` runs in the same transaction, so that what it claims (a
        link) is claimed exactly when the submission is stored.
        """
        try:
            async with self.db.transaction() as conn:
                if within is not None:
                    await within(conn)
                await conn.execute(
                    "INSERT INTO used_nonces VALUES (?,?,?,?)",
                    (nonce, submission.receipt, submission.received_at, nonce_expires),
                )
                await conn.execute(
                    "INSERT INTO submissions (id, tenant, form_slug, form_version, "
                    "receiver, receipt, received_at, sealed_key, sealed_values, test) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        submission.id,
                        submission.tenant,
                        submission.form_slug,
                        submission.form_version,
                        submission.receiver,
                        submission.receipt,
                        submission.received_at,
                        submission.sealed_key,
                        submission.sealed_values,
                        int(submission.test),
                    ),
                )
                await conn.executemany(
                    "INSERT INTO submission_files VALUES (?,?,?,?)",
                    [
                        (submission.id, f.file_id, f.field, f.sealed_size)
                        for f in submission.files
                    ],
                )
        except sqlite3.IntegrityError as error:
            if "used_nonces" in str(error):
                raise DuplicateNonce(nonce) from error
            raise

    async def pending(
        self, receiver: str, limit: int, submission_id: str | None = None
    ) -> list[SealedSubmission]:
        """Return the oldest submissions waiting for a receiver, or the one named."""
        rows = await self.db.fetchall(
            "SELECT * FROM submissions WHERE receiver = ? AND (? IS NULL OR id = ?) "
            "ORDER BY received_at, id LIMIT ?",
            (receiver, submission_id, submission_id, limit),
        )
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        marks = ",".join("?" * len(ids))
        files: dict[str, list[SealedFile]] = {i: [] for i in ids}
        for row in await self.db.fetchall(
            f"SELECT * FROM submission_files WHERE submission_id IN ({marks}) "  # noqa: S608
            "ORDER BY rowid",
            ids,
        ):
            files[row["submission_id"]].append(
                SealedFile(row["file_id"], row["field"], row["sealed_size"])
            )
        return [
            SealedSubmission(
                row["id"],
                row["tenant"],
                row["form_slug"],
                row["form_version"],
                row["receiver"],
                row["receipt"],
                row["received_at"],
                row["sealed_key"],
                row["sealed_values"],
                tuple(files[row["id"]]),
                bool(row["test"]),
            )
            for row in rows
        ]

    async def submission_ids(self) -> set[str]:
        """Return the ids of every pending submission."""
        return {
            row["id"] for row in await self.db.fetchall("SELECT id FROM submissions")
        }

    async def delete_submissions(self, ids: Sequence[str]) -> None:
        """Delete submissions with their file rows, in one transaction."""
        async with self.db.transaction() as conn:
            await conn.executemany(
                "DELETE FROM submissions WHERE id = ?", [(i,) for i in ids]
            )

    async def purge_nonces(self, now: str) -> None:
        """Forget form instances whose session has ended."""
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM used_nonces WHERE expires_at <= ?", (now,))
