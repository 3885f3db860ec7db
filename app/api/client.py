"""The reference client of MODWORK's API: take, open, write, sync, acknowledge.

`python run.py pull` runs it. For each pending submission of its key's
tenant it fetches the sealed envelope, opens the data key with the
receiver's private key, decrypts the values and streams each file through
the decryption, writes DIR/<id>/submission.json and the files into a hidden
folder, syncs them and renames the folder into place; only then does it
acknowledge, whereupon the portal deletes the submission. A run that dies
midway leaves the submission pending, and the next run takes it again: what
is in DIR/<id> is always complete, so a submission written before a lost
acknowledgement is acknowledged without being written twice.
"""

import base64
import fcntl
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from app import crypto
from app.forms.groups import place_file
from app.storage.db import fsync_dir

log = logging.getLogger(__name__)

PAGE = 100
READ_SIZE = 256 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120)
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}
FIELD_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")
FILE_ID = re.compile(r"[0-9a-f]{16}")


class PullError(Exception):
    """The API refused a call or answered something the client cannot use."""


class Vanished(PullError):
    """The submission went while this run took it: another client took it.

    The portal deletes a submission only on an acknowledgement, which a
    client sends once it holds the submission durably, so nothing is lost.
    """


@dataclass
class PullResult:
    taken: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    # Taken by another client while this run was at them.
    gone: list[str] = field(default_factory=list)


def read_api_key(path: Path) -> str:
    """Read the API key from a file that only its owner may read."""
    fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, "r", encoding="ascii") as file:
        if os.fstat(file.fileno()).st_mode & 0o077:
            raise PullError(f"{path} must be readable by its owner only (chmod 600)")
        return file.read().strip()


class Puller:
    """One run of the client against one API with one key."""

    def __init__(self, session: aiohttp.ClientSession, url: str, key, out: Path):
        self.session = session
        self.url = url.rstrip("/")
        self.private_key = key
        self.out = out

    async def _json(self, method: str, path: str, **kwargs) -> dict:
        async with self.session.request(method, self.url + path, **kwargs) as answer:
            if (
                answer.status == 404
                and method == "GET"
                and path != "/api/v1/submissions"
            ):
                raise Vanished(f"{method} {path}: HTTP 404")
            if answer.status >= 300:
                raise PullError(f"{method} {path}: HTTP {answer.status}")
            return await answer.json()

    async def run(self) -> PullResult:
        """Take every submission that waits, oldest first."""
        result = PullResult()
        while True:
            listing = await self._json(
                "GET", "/api/v1/submissions", params={"limit": str(PAGE)}
            )
            seen = {*result.taken, *result.failed, *result.gone}
            batch = [s["id"] for s in listing["submissions"] if s["id"] not in seen]
            # Limitation: the listing is paged by age alone, so a whole page of
            # submissions this key cannot open hides any that wait behind it.
            if not batch:
                return result
            for submission_id in batch:
                try:
                    await self.take(submission_id)
                    result.taken.append(submission_id)
                except Vanished:
                    log.info("Submission %s was taken by another client", submission_id)
                    result.gone.append(submission_id)
                except (crypto.CryptoError, PullError, ValueError, KeyError):
                    log.error("Cannot take submission %s", submission_id, exc_info=True)
                    result.failed.append(submission_id)

    async def take(self, submission_id: str) -> None:
        """Write one submission durably, then acknowledge it."""
        if not SUBMISSION_ID.fullmatch(submission_id):
            raise PullError("the API named a malformed submission id")
        target = self.out / submission_id
        if not target.exists():
            envelope = await self._json("GET", f"/api/v1/submissions/{submission_id}")
            await self._write(envelope, target)
        await self._json("POST", f"/api/v1/submissions/{submission_id}/ack")
        log.info("Took submission %s", submission_id)

    async def _write(self, envelope: dict, target: Path) -> None:
        submission_id, tenant = envelope["id"], envelope["tenant"]
        data_key = crypto.open_data_key(
            base64.b64decode(envelope["sealed_key"]),
            self.private_key,
            tenant,
            submission_id,
        )
        payload = json.loads(
            crypto.decrypt_values(
                data_key,
                tenant,
                submission_id,
                base64.b64decode(envelope["sealed_values"]),
            )
        )
        if (payload["submission_id"], payload["tenant"]) != (submission_id, tenant):
            raise PullError("the sealed values belong to another submission")
        staging = self.out / f".{submission_id}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700, parents=True)
        try:
            await self._stage(envelope, payload, data_key, staging)
        except BaseException:
            # Half a submission helps no one: the next run writes it anew.
            shutil.rmtree(staging, ignore_errors=True)
            raise
        os.replace(staging, target)
        fsync_dir(self.out)

    async def _stage(self, envelope, payload, data_key, staging: Path) -> None:
        """Write a submission's files and record into its staging folder."""
        submission_id, tenant = envelope["id"], envelope["tenant"]
        hrefs = {f["id"]: f["href"] for f in envelope["files"]}
        files = []
        values = payload["values"]
        for meta in payload["files"]:
            if not FILE_ID.fullmatch(meta["file_id"]):
                raise PullError("the sealed values name a malformed file id")
            name = _file_name(meta, {f["file"] for f in files})
            if meta["file_id"] not in hrefs:
                await self._vanished(submission_id)
                raise PullError("the envelope lacks a file its sealed values name")
            await self._download(
                hrefs[meta["file_id"]], data_key, submission_id, meta, staging / name
            )
            files.append(
                {
                    "field": meta["field"],
                    "file": name,
                    "filename": meta["filename"],
                    "content_type": meta["content_type"],
                    "size": meta["size"],
                    # A repeated group's file: the item it belongs to.
                    **({"index": meta["index"]} if "index" in meta else {}),
                }
            )
            if "index" in meta:
                place_file(values, meta, name)
        record = {
            "id": submission_id,
            "tenant": tenant,
            "form": payload["form"],
            "receipt": payload["receipt"],
            "received_at": payload["received_at"],
            # The link the form came through, and for a query or an order
            # MODWORK's own record, so a correction joins that record.
            "link_id": payload.get("link_id"),
            "record_ref": payload.get("record_ref"),
            "values": values,
            "files": files,
        }
        _write_synced(
            staging / "submission.json",
            json.dumps(record, ensure_ascii=False, indent=2).encode() + b"\n",
        )
        fsync_dir(staging)

    async def _vanished(self, submission_id: str) -> None:
        """Raise Vanished if the submission is no longer pending."""
        # An envelope read while another client's acknowledgement deletes the
        # submission can list fewer files than its sealed values name.
        await self._json("GET", f"/api/v1/submissions/{submission_id}")

    async def _download(self, href, data_key, submission_id, meta, path) -> None:
        """Stream a sealed file through its decryption to a synced file."""
        opener = crypto.FileOpener(data_key, submission_id, meta["file_id"])
        async with self.session.get(self.url + href) as answer:
            if answer.status == 404:
                raise Vanished("GET file: HTTP 404")
            if answer.status != 200:
                raise PullError(f"GET file: HTTP {answer.status}")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as plain:
                async for chunk in answer.content.iter_chunked(READ_SIZE):
                    plain.write(opener.update(chunk))
                opener.finish()
                plain.flush()
                os.fsync(plain.fileno())
                if plain.tell() != meta["size"]:
                    raise PullError("a file's size differs from its sealed record")


def _file_name(meta: dict, taken: set[str]) -> str:
    """Name a file by its MODWORK field, never by the customer's file name."""
    field_name = meta["field"] if FIELD_NAME.fullmatch(meta["field"]) else "DATEI"
    extension = EXTENSIONS.get(meta["content_type"], ".bin")
    name = f"{field_name}{extension}"
    if name in taken:
        name = f"{field_name}-{meta['file_id']}{extension}"
    return name


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


async def pull(url: str, api_key: str, private_key_path: Path, out: Path) -> PullResult:
    """Take every pending submission of the key's tenant into the folder."""
    # Limitation: one run opens submissions with one private key, so after
    # MODWORK's key is changed, what was sealed to the old key needs a run
    # with the old key; until then it is reported and stays pending.
    private_key = crypto.load_private_key(private_key_path)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    headers = {"Authorization": f"Bearer {api_key}"}
    # Two runs on one folder would step on each other's staging folders and
    # could acknowledge what the other had not written: one at a time.
    # The lock is on the folder itself, so it leaves no file behind.
    folder = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise PullBusy(f"another pull is writing into {out}") from error
        async with aiohttp.ClientSession(headers=headers, timeout=TIMEOUT) as session:
            return await Puller(session, url, private_key, out).run()
    finally:
        os.close(folder)


class PullBusy(PullError):
    """Another run of pull holds the output folder."""
