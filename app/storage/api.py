"""SQL of MODWORK's API keys, kept in the portal's store by their hash alone."""

import sqlite3
from dataclasses import dataclass

from app.storage.db import Database


@dataclass(frozen=True)
class ApiKey:
    """A live API key: whose it is and what it may do."""

    id: int
    tenant: str
    name: str
    scopes: frozenset[str]


class DuplicateKeyName(Exception):
    """A live key of this name exists already for the tenant."""


class ApiKeyStore:
    """The API keys, behind named operations."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, tenant: str, name: str, scopes: list[str], key_hash: str, now: str
    ) -> int:
        """Store a new key by its hash; return its id."""
        try:
            async with self.db.transaction() as conn:
                cursor = await conn.execute(
                    "INSERT INTO api_keys (tenant, name, scopes, key_hash, created_at) "
                    "VALUES (?,?,?,?,?)",
                    (tenant, name, " ".join(sorted(scopes)), key_hash, now),
                )
                return cursor.lastrowid
        except sqlite3.IntegrityError as error:
            raise DuplicateKeyName(name) from error

    async def revoke(self, tenant: str, name: str, now: str) -> bool:
        """End a tenant's live key of this name; return whether there was one."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE api_keys SET revoked_at = ? "
                "WHERE tenant = ? AND name = ? AND revoked_at IS NULL",
                (now, tenant, name),
            )
            return cursor.rowcount > 0

    async def live_key(self, key_hash: str) -> ApiKey | None:
        """Return the live key with this hash, or None."""
        row = await self.db.fetchone(
            "SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
            (key_hash,),
        )
        if row is None:
            return None
        scopes = frozenset(row["scopes"].split())
        return ApiKey(row["id"], row["tenant"], row["name"], scopes)


class LinkWebhookProgress:
    """How far each tenant's link.state webhook has been answered, kept durable."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def delivered(self, tenant: str) -> int | None:
        """Return the last history row the tenant's MODWORK took, None if unset."""
        row = await self.db.fetchone(
            "SELECT delivered FROM link_webhook_progress WHERE tenant = ?", (tenant,)
        )
        return None if row is None else row["delivered"]

    async def advance(self, tenant: str, seq: int) -> None:
        """Note that the tenant's MODWORK took every change up to a history row."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO link_webhook_progress VALUES (?, ?) "
                "ON CONFLICT (tenant) DO UPDATE SET delivered = excluded.delivered",
                (tenant, seq),
            )
