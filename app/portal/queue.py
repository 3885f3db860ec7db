"""The waiting room: what a receiver takes from the portal, and acknowledges.

The built-in back office and the MODWORK API are two receivers behind this
one interface: the same take, the same acknowledgement, the same deletion.
"""

import asyncio
import logging
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from app.clock import iso, utcnow
from app.storage.db import ensure_private_dir
from app.storage.portal import PortalStore, SealedSubmission

log = logging.getLogger(__name__)


class PendingQueue:
    """Sealed submissions waiting for their receivers, and their files."""

    def __init__(self, store: PortalStore, files_dir: Path) -> None:
        self.store = store
        self.files_dir = ensure_private_dir(files_dir)
        self._arrived: dict[str, asyncio.Event] = {}

    def arrival(self, receiver: str) -> asyncio.Event:
        """Return the event set whenever a submission for the receiver arrives."""
        return self._arrived.setdefault(receiver, asyncio.Event())

    def notify(self, receiver: str) -> None:
        """Wake the receiver: something new waits for it."""
        self.arrival(receiver).set()

    def folder(self, submission_id: str) -> Path:
        """Return the folder of a submission's sealed files."""
        return self.files_dir / submission_id

    def file_path(self, submission_id: str, file_id: str) -> Path:
        """Return the path of one sealed file."""
        return self.folder(submission_id) / file_id

    async def take(self, receiver: str, limit: int) -> list[SealedSubmission]:
        """Return the oldest sealed submissions waiting for the receiver."""
        return await self.store.pending(receiver, limit)

    async def take_one(
        self, receiver: str, submission_id: str
    ) -> SealedSubmission | None:
        """Return one sealed submission if it waits for the receiver, else None."""
        found = await self.store.pending(receiver, 1, submission_id)
        return found[0] if found else None

    async def acknowledge(self, ids: Sequence[str]) -> None:
        """Delete every trace of taken submissions: rows, files and sealed keys."""
        if not ids:
            return
        await self.store.delete_submissions(ids)
        for submission_id in ids:
            await asyncio.to_thread(
                shutil.rmtree, self.folder(submission_id), ignore_errors=True
            )
        await self.store.purge_nonces(iso(utcnow()))
        try:
            await self.store.db.checkpoint()
        except sqlite3.OperationalError:
            # The rows are deleted (secure_delete zeroes them); the WAL that
            # still holds their pages is folded in by the next checkpoint.
            log.warning("WAL checkpoint deferred to the next acknowledgement")
        log.info("Deleted %s acknowledged submissions", len(ids))

    async def remove_orphans(self) -> None:
        """Delete sealed files of submissions that were never committed."""
        known = await self.store.submission_ids()
        for folder in self.files_dir.iterdir():
            if folder.name not in known:
                await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)
                log.info("Removed uncommitted files of submission %s", folder.name)
