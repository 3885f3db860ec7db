"""Open a side's SQLite database with its durability settings and schema."""

import asyncio
import logging
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

# Every pragma here is a durability or privacy decision, so it is set
# explicitly rather than left to the build's defaults.
PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA secure_delete = ON",
    "PRAGMA busy_timeout = 5000",
)


def ensure_private_dir(path: Path) -> Path:
    """Create a folder readable by its owner alone, or tighten an existing one."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def secret_file(path: Path) -> bytes:
    """Return a 32-byte secret kept in an owner-only file, made on first use."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
            out.flush()
            os.fsync(out.fileno())
    return path.read_bytes()


def fsync_dir(path: Path) -> None:
    """Make a folder's entries durable, so a new file's name survives a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Database:
    """One aiosqlite connection with a lock that keeps transactions whole."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the body as one transaction, committed whole or not at all."""
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.rollback()
                raise
            await self.conn.commit()

    async def fetchall(self, sql: str, params: Sequence = ()) -> list[aiosqlite.Row]:
        """Return every row of a query."""
        async with self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Sequence = ()) -> aiosqlite.Row | None:
        """Return the first row of a query, or None."""
        async with self.conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it to nothing."""
        async with self._lock:
            await self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def close(self) -> None:
        """Checkpoint and close the connection."""
        try:
            await self.checkpoint()
        except sqlite3.OperationalError:
            # A task cancelled mid-query may leave a statement open; the WAL
            # is then folded in at the next start instead.
            log.warning("Could not checkpoint %s at close", self.path.name)
        await self.conn.close()


async def open_database(path: Path, migrations: Sequence[str]) -> Database:
    """Open the file, set its pragmas and apply the migrations it lacks."""
    ensure_private_dir(path.parent)
    if not path.exists():
        # Create the file owner-only before SQLite opens it with the umask.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = aiosqlite.Row
    for pragma in PRAGMAS:
        await conn.execute(pragma)
    async with conn.execute("PRAGMA user_version") as cursor:
        (version,) = await cursor.fetchone()
    for number, script in enumerate(migrations[version:], start=version + 1):
        await conn.executescript(
            f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
        )
        log.info("Applied migration %s to %s", number, path.name)
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            os.chmod(sidecar, 0o600)
    return Database(conn, path)
