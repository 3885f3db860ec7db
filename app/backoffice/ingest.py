"""The built-in receiver: take sealed submissions, commit records, acknowledge."""

import asyncio
import contextlib
import json
import logging
import os
import secrets
from dataclasses import replace

from app import crypto
from app.backoffice.service import RECEIVER, BackOffice
from app.clock import iso, utcnow
from app.forms.groups import place_file
from app.portal.queue import PendingQueue
from app.storage.backoffice import NewAttachment, NewRecord
from app.storage.db import fsync_dir
from app.storage.portal import SealedSubmission

log = logging.getLogger(__name__)

READ_SIZE = 1024 * 1024
GATHER_S = 0.05
UNFILED = (
    "Dieser Eingang ließ sich nicht wie üblich ablegen (etwa als Antwort zu "
    "einem Vorgang) und wurde als eigener Vorgang abgelegt. Bitte prüfen."
)


class Ingest:
    """Wake on arrival, take batches, and only then let the portal forget."""

    def __init__(
        self,
        backoffice: BackOffice,
        queue: PendingQueue,
        batch_size: int,
        confirmations=None,
    ) -> None:
        self.backoffice = backoffice
        self.confirmations = confirmations
        self.queue = queue
        self.batch_size = batch_size
        self.failed: set[str] = set()
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        """Take whatever waits, then sleep until the next arrival."""
        arrival = self.queue.arrival(RECEIVER)
        while True:
            arrival.clear()
            work = asyncio.ensure_future(self._take_all())
            try:
                await asyncio.shield(work)
            except asyncio.CancelledError:
                # A batch under way finishes whole before the receiver stops;
                # a wait before a retry ends at once.
                self.stopping.set()
                await work
                raise
            await arrival.wait()
            # A moment's wait lets sends that arrive together share a batch:
            # one commit and one checkpoint for all of them.
            await asyncio.sleep(GATHER_S)

    async def _take_all(self) -> None:
        """Take batches until none is left, retrying a failed one with backoff."""
        delay = 1.0
        while True:
            try:
                while await self.take_batch():
                    pass
                return
            except Exception:
                # What failed stays pending in the portal; try again later.
                log.error(
                    "Taking submissions failed; retrying in %.0fs", delay, exc_info=True
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)
                if self.stopping.is_set():
                    return
                delay = min(delay * 2, 60.0)

    async def take_batch(self) -> int:
        """Take one batch; return how many submissions became records."""
        batch = await self.queue.take(RECEIVER, self.batch_size + len(self.failed))
        batch = [s for s in batch if s.id not in self.failed][: self.batch_size]
        if not batch:
            return 0
        store = self.backoffice.store
        done = await store.taken_submissions([s.id for s in batch])
        records = []
        for submission in batch:
            if submission.id in done:
                continue
            try:
                records.append(await self._open(submission))
            except (crypto.CryptoError, OSError, ValueError, KeyError):
                log.error(
                    "Cannot open submission %s; it stays pending",
                    submission.id,
                    exc_info=True,
                )
                self.failed.add(submission.id)
        if any(r.attachments for r in records):
            await asyncio.to_thread(fsync_dir, self.backoffice.attachments_dir)
        try:
            await self._file(records)
        except Exception:
            log.error("Filing a batch failed; filing it one by one", exc_info=True)
            for record in records:
                await self._file_alone(record)
        taken = [s.id for s in batch if s.id not in self.failed]
        await self.queue.acknowledge(taken)
        log.info("Took %s submissions as records", len(records))
        return len(taken)

    async def _file(self, records: list[NewRecord]) -> None:
        """Commit records, with the confirmations they cause, in one go."""
        mails: list[str] = []

        async def confirm(conn) -> None:
            mails.extend(await self.confirmations.queue(conn, records))

        await self.backoffice.store.add_records(
            records, confirm if self.confirmations else None
        )
        if self.confirmations:
            self.confirmations.send(mails)

    async def _file_alone(self, record: NewRecord) -> None:
        """File one record; one that cannot be filed never blocks the rest."""
        try:
            await self._file([record])
            return
        except Exception:
            log.error("Cannot file submission %s as usual", record.submission_id)
        try:
            # Stricter than setting it aside: nothing is lost, and the
            # clerk reads on the record why it stands apart.
            await self._file([replace(record, link_id=None, note=UNFILED)])
        except Exception:
            # Limitation: a submission that cannot even be filed as a record
            # of its own stays pending in the portal until the next start.
            log.error("Cannot file submission %s; set aside", record.submission_id)
            self.failed.add(record.submission_id)

    async def _open(self, submission: SealedSubmission) -> NewRecord:
        """Decrypt one submission into a record; its files onto our disk."""
        key = crypto.open_data_key(
            submission.sealed_key,
            self.backoffice.private_key,
            submission.tenant,
            submission.id,
        )
        payload = json.loads(
            crypto.decrypt_values(
                key, submission.tenant, submission.id, submission.sealed_values
            )
        )
        definition = await self.backoffice.definition(
            submission.tenant, submission.form_slug, submission.form_version
        )
        if definition is None:
            raise KeyError(f"form version of {submission.id} is unknown")
        attachments = []
        values = payload["values"]
        for meta in payload["files"]:
            attachment = NewAttachment(
                secrets.token_hex(16),
                meta["field"],
                meta["filename"],
                meta["content_type"],
                meta["size"],
            )
            source = self.queue.file_path(submission.id, meta["file_id"])
            target = self.backoffice.attachment_path(attachment.id)
            await asyncio.to_thread(
                _decrypt_file, key, submission.id, meta["file_id"], source, target
            )
            attachments.append(attachment)
            if "index" in meta:
                place_file(values, meta, attachment.id)
        return NewRecord(
            submission_id=submission.id,
            tenant=submission.tenant,
            record_type=definition.record_type,
            form_slug=submission.form_slug,
            form_version=submission.form_version,
            form_title=definition.title,
            receipt=submission.receipt,
            received_at=submission.received_at,
            taken_at=iso(utcnow()),
            values=values,
            attachments=tuple(attachments),
            link_id=payload.get("link_id"),
            test=submission.test,
        )


def _decrypt_file(key: bytes, submission_id: str, file_id: str, source, target):
    """Decrypt a sealed file to an owner-only file and make it durable."""
    opener = crypto.FileOpener(key, submission_id, file_id)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with open(source, "rb") as sealed, os.fdopen(fd, "wb") as plain:
            while chunk := sealed.read(READ_SIZE):
                plain.write(opener.update(chunk))
            opener.finish()
            plain.flush()
            os.fsync(plain.fileno())
    except BaseException:
        # Plaintext handed out before a failed final check must not stay.
        target.unlink(missing_ok=True)
        raise


async def remove_orphan_attachments(backoffice: BackOffice) -> None:
    """Delete attachment files that no committed record names."""
    known = await backoffice.store.attachment_ids()
    for path in backoffice.attachments_dir.iterdir():
        if path.name not in known:
            path.unlink(missing_ok=True)
            log.info("Removed an uncommitted attachment file")
