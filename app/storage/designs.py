"""SQL of tenant designs: the back office's versions, the portal's current one."""

import sqlite3
from dataclasses import dataclass

from app.storage.db import Database


@dataclass(frozen=True)
class DesignVersion:
    """One stored version of a tenant's design."""

    tenant: str
    version: int
    design: str
    logo: bytes | None
    created_by: str = ""
    created_at: str = ""
    note: str = ""


def _version(row: sqlite3.Row) -> DesignVersion:
    return DesignVersion(
        row["tenant"],
        row["version"],
        row["design"],
        row["logo"],
        row["created_by"],
        row["created_at"],
        row["note"],
    )


class DesignStore:
    """The back office's design versions, behind named operations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_version(
        self,
        tenant: str,
        design: str,
        logo: bytes | None,
        clerk: str,
        now: str,
        note: str,
    ) -> int:
        """Store a tenant's next design version; return its number."""
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT coalesce(max(version), 0) FROM design_versions "
                "WHERE tenant = ?",
                (tenant,),
            ) as cursor:
                (last,) = await cursor.fetchone()
            await conn.execute(
                "INSERT INTO design_versions VALUES (?,?,?,?,?,?,?)",
                (tenant, last + 1, design, logo, clerk, now, note),
            )
            return last + 1

    async def current(self, tenant: str) -> DesignVersion | None:
        """Return a tenant's newest design version, or None before the first."""
        row = await self.db.fetchone(
            "SELECT * FROM design_versions WHERE tenant = ? "
            "ORDER BY version DESC LIMIT 1",
            (tenant,),
        )
        return _version(row) if row else None

    async def version(self, tenant: str, number: int) -> DesignVersion | None:
        """Return one version of a tenant's design."""
        row = await self.db.fetchone(
            "SELECT * FROM design_versions WHERE tenant = ? AND version = ?",
            (tenant, number),
        )
        return _version(row) if row else None

    async def versions(self, tenant: str) -> list[DesignVersion]:
        """Return every version of a tenant's design, newest first.

        A logo comes as b"" (there is one) or None, not its bytes.
        """
        rows = await self.db.fetchall(
            "SELECT tenant, version, design, "
            "CASE WHEN logo IS NULL THEN NULL ELSE x'' END AS logo, "
            "created_by, created_at, note FROM design_versions "
            "WHERE tenant = ? ORDER BY version DESC",
            (tenant,),
        )
        return [_version(row) for row in rows]


class PublishedDesignStore:
    """The portal's copy of each tenant's current design."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def replace(self, published: DesignVersion, now: str) -> None:
        """Keep a tenant's design in place of the one before."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO published_designs VALUES (?,?,?,?,?)",
                (
                    published.tenant,
                    published.version,
                    published.design,
                    published.logo,
                    now,
                ),
            )

    async def all(self) -> list[DesignVersion]:
        """Return every tenant's design as the portal holds it."""
        rows = await self.db.fetchall("SELECT * FROM published_designs")
        return [
            DesignVersion(r["tenant"], r["version"], r["design"], r["logo"])
            for r in rows
        ]
