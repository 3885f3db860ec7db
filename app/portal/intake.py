"""Read a submission as it streams in, sealing each file as it arrives."""

import asyncio
import functools
import json
import logging
import os
import secrets
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import aiofiles
from aiohttp import BodyPartReader, MultipartReader, StreamReader, hdrs
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from app import crypto
from app.forms.definition import FormDefinition, FormField
from app.forms.groups import input_field, is_control, with_files
from app.forms.validation import UploadInfo
from app.storage.db import fsync_dir
from app.storage.portal import SealedFile, SealedSubmission
from app.uploads import SNIFF_BYTES, UploadRefused, sanitizer_for, sniff

log = logging.getLogger(__name__)

READ_SIZE = 256 * 1024
MAX_TEXT_PART = 16 * 1024
MAX_PARTS = 400
# Boundaries and part headers: what a sound form adds around its values.
FRAMING_ALLOWANCE = 64 * 1024
TYPE_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "application/pdf": "PDF"}


class TooLarge(Exception):
    """The submission or one of its files is over its ceiling."""


class Malformed(Exception):
    """The request is not a form this server could have served."""


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_submission_bytes: int
    max_pixels: int
    max_files: int
    idle_timeout_s: float
    send_timeout_s: float


@dataclass
class StoredFile:
    field: str
    file_id: str
    filename: str
    content_type: str
    size: int
    sealed_size: int


@dataclass
class Intake:
    """One submission being read: its key, its values and its sealed files."""

    form: FormDefinition
    folder: Path
    limits: Limits
    version: int
    id: str = field(default_factory=lambda: secrets.token_hex(16))
    data_key: bytes = field(default_factory=crypto.new_data_key)
    values: dict[str, str] = field(default_factory=dict)
    files: list[StoredFile] = field(default_factory=list)
    file_errors: dict[str, str] = field(default_factory=dict)
    chosen_files: bool = False
    received_bytes: int = 0
    stream: StreamReader | None = None
    link_id: str | None = None
    record_ref: str | None = None

    def _count(self, size: int) -> None:
        self.received_bytes += size
        # The stream's own count includes what lies between the parts.
        sent = self.stream.total_bytes if self.stream is not None else 0
        ceiling = self.limits.max_submission_bytes
        if self.received_bytes > ceiling or sent > ceiling + FRAMING_ALLOWANCE:
            raise TooLarge("submission")

    async def _chunk(self, part: BodyPartReader) -> bytes:
        """Read the next piece of a part, giving up on a client gone quiet."""
        return await asyncio.wait_for(
            part.read_chunk(READ_SIZE), self.limits.idle_timeout_s
        )

    async def read(self, reader: MultipartReader) -> None:
        """Read every remaining part: text into values, files sealed to disk."""
        for _ in range(MAX_PARTS):
            part = await asyncio.wait_for(reader.next(), self.limits.idle_timeout_s)
            if part is None:
                return
            if not isinstance(part, BodyPartReader):
                raise Malformed("nested multipart")
            name, filename = part_names(part)
            form_field = self._field(name or "")
            if filename is not None:
                await self._read_file(part, form_field)
            elif form_field is not None and form_field.type != "file":
                self.values[form_field.name] = await self._read_text(part)
            elif is_control(name or ""):
                self.values[name] = await self._read_text(part)
            else:
                await self._drain(part)
        raise Malformed("too many parts")

    def _field(self, name: str) -> FormField | None:
        return input_field(self.form, name)

    async def _read_text(self, part: BodyPartReader) -> str:
        data = bytearray()
        while chunk := await self._chunk(part):
            self._count(len(chunk))
            data += chunk
            if len(data) > MAX_TEXT_PART:
                raise TooLarge("text field")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise Malformed("text is not UTF-8") from error

    async def _drain(self, part: BodyPartReader, limit: int | None = None) -> int:
        size = 0
        while chunk := await self._chunk(part):
            self._count(len(chunk))
            size += len(chunk)
            if limit is not None and size > limit:
                raise TooLarge("file")
        return size

    def _file_limit(self, form_field: FormField) -> int:
        limit = self.limits.max_file_bytes
        return min(limit, form_field.max_bytes) if form_field.max_bytes else limit

    async def _read_file(self, part: BodyPartReader, form_field: FormField | None):
        if form_field is None or form_field.type != "file":
            await self._drain(part)
            return
        limit = self._file_limit(form_field)
        head = bytearray()
        while len(head) < SNIFF_BYTES and (chunk := await self._chunk(part)):
            self._count(len(chunk))
            head += chunk
        if not head and not part_names(part)[1]:
            return  # an empty file input: nothing was chosen
        self.chosen_files = True
        if len(head) > limit:
            raise TooLarge("file")
        if len(self.files) >= self.limits.max_files:
            raise TooLarge("too many files")
        if any(f.field == form_field.name for f in self.files):
            self.file_errors[form_field.name] = "Bitte wählen Sie nur eine Datei."
            await self._drain(part)
            return
        content_type = sniff(bytes(head))
        if content_type not in form_field.accept:
            await self._drain(part, limit - len(head))
            self.file_errors[form_field.name] = _wrong_type(form_field)
            return
        await self._seal_file(part, form_field, content_type, head, limit)

    async def _raw_chunks(self, part, head: bytes, limit: int):
        """Yield a file part's bytes as they arrive, refusing it past its limit."""
        size = len(head)
        yield head
        while chunk := await self._chunk(part):
            self._count(len(chunk))
            size += len(chunk)
            if size > limit:
                raise TooLarge("file")
            yield chunk

    async def _seal_file(self, part, form_field, content_type, head, limit) -> None:
        """Strip, seal and write one file chunk by chunk; keep it if it is sound."""
        file_id = secrets.token_hex(8)
        path = self.folder / file_id
        sanitizer = sanitizer_for(content_type, self.limits.max_pixels)
        sealer = crypto.FileSealer(self.data_key, self.id, file_id)
        plain_size = 0
        await asyncio.to_thread(self.folder.mkdir, mode=0o700, exist_ok=True)
        chunks = self._raw_chunks(part, bytes(head), limit)
        async with aiofiles.open(path, "wb") as out:
            written = await out.write(sealer.header)
            try:
                async for chunk in chunks:
                    clean = sanitizer.feed(chunk)
                    plain_size += len(clean)
                    written += await out.write(sealer.update(clean))
                clean = sanitizer.finish()
            except UploadRefused as refused:
                self.file_errors[form_field.name] = f"{form_field.label}: {refused}"
                async for _ in chunks:
                    pass  # read the rest, still within the file's limit
                await out.close()
                await asyncio.to_thread(path.unlink, missing_ok=True)
                return
            plain_size += len(clean)
            written += await out.write(sealer.update(clean) + sealer.finish())
            await out.flush()
            await asyncio.to_thread(os.fsync, out.fileno())
        self.files.append(
            StoredFile(
                form_field.name,
                file_id,
                _display_name(part_names(part)[1] or ""),
                content_type,
                plain_size,
                written,
            )
        )

    def uploads(self) -> dict[str, list[UploadInfo]]:
        """Return what validation needs to know of the files that were kept."""
        infos: dict[str, list[UploadInfo]] = {}
        for stored in self.files:
            infos.setdefault(stored.field, []).append(
                UploadInfo(stored.field, stored.content_type, stored.size)
            )
        return infos

    async def discard(self) -> None:
        """Delete every sealed part of a submission that will not be stored."""
        await asyncio.to_thread(shutil.rmtree, self.folder, ignore_errors=True)

    async def sync_folder(self) -> None:
        """Make the files' directory entries durable before the commit."""
        if self.files:
            await asyncio.to_thread(fsync_dir, self.folder)
            await asyncio.to_thread(fsync_dir, self.folder.parent)

    def seal(
        self,
        values: dict[str, str],
        public_key,
        receipt: str,
        received_at: str,
        receiver: str,
        test: bool = False,
    ) -> SealedSubmission:
        """Seal the checked values and file names for the receiver."""
        values, placed = with_files(self.form, values, self.values, self.files)
        payload = {
            "format": 1,
            "submission_id": self.id,
            "tenant": self.form.tenant,
            "form": {"slug": self.form.slug, "version": self.version},
            "receipt": receipt,
            "received_at": received_at,
            "link_id": self.link_id,
            "record_ref": self.record_ref,
            "values": values,
            "files": [
                {
                    "file_id": f.file_id,
                    "field": name,
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "size": f.size,
                    **({} if index is None else {"index": index}),
                }
                for f, name, index in placed
            ],
        }
        plaintext = json.dumps(payload, ensure_ascii=False).encode()
        tenant = self.form.tenant
        return SealedSubmission(
            id=self.id,
            tenant=tenant,
            form_slug=self.form.slug,
            form_version=self.version,
            receiver=receiver,
            receipt=receipt,
            received_at=received_at,
            sealed_key=crypto.seal_data_key(self.data_key, public_key, tenant, self.id),
            sealed_values=crypto.encrypt_values(
                self.data_key, tenant, self.id, plaintext
            ),
            files=tuple(
                SealedFile(f.file_id, name, f.sealed_size) for f, name, _ in placed
            ),
            test=test,
        )


def _wrong_type(form_field: FormField) -> str:
    names = [TYPE_NAMES[t] for t in form_field.accept]
    allowed = (
        names[0] if len(names) == 1 else f"{', '.join(names[:-1])} oder {names[-1]}"
    )
    return f"{form_field.label}: Wählen Sie eine Datei vom Typ {allowed}."


def part_names(part: BodyPartReader) -> tuple[str | None, str | None]:
    """Return a part's field name and file name from its Content-Disposition."""
    header = part.headers.get(hdrs.CONTENT_DISPOSITION)
    if header is not None and len(header) <= MAX_CACHED_HEADER:
        return _parsed_disposition(header)
    return _parse_disposition(header)


def _parse_disposition(header: str | None) -> tuple[str | None, str | None]:
    _, params = parse_content_disposition(header)
    return (
        content_disposition_filename(params, "name"),
        content_disposition_filename(params, "filename"),
    )


# The profile of sends showed aiohttp's header parser as their largest cost,
# and a form's headers repeat from send to send, so short ones are kept.
MAX_CACHED_HEADER = 200
_parsed_disposition = functools.lru_cache(maxsize=2048)(_parse_disposition)


def _display_name(filename: str) -> str:
    """Keep a file name readable but harmless: no control or bidi characters."""
    kept = "".join(c for c in filename if unicodedata.category(c)[0] != "C")
    return kept.strip()[:200]


RECEIPT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_receipt(tenant: str) -> str:
    """Return a receipt number a customer can read out: MU-7KQ4-XH2P."""
    chars = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(8))
    return f"{tenant[:2].upper()}-{chars[:4]}-{chars[4:]}"
