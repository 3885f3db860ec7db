"""Stepped forms on the portal: one step a page, a check page, then the send.

Between steps the portal keeps nothing readable. The answers of earlier
steps travel in the page as a hidden `state`, encrypted and authenticated
under a server key and bound to the tenant, the form, its version and the
browser's form cookie. A file chosen on a step is sealed to the receiver as
it streams in, with the data key and submission id the state carries, and
waits under data/portal/staged/ until the final send adopts it whole or
its session expires.
"""

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from app import crypto
from app.portal.intake import MAX_TEXT_PART, Intake, StoredFile, part_names
from app.portal.service import Portal
from app.storage.db import ensure_private_dir, secret_file
from app.timers import Scheduler

log = logging.getLogger(__name__)

STATE_FIELD = "state"
FORMAT = 1
# Room for the JSON around the values, the file list and base64's third.
STATE_ALLOWANCE = 64 * 1024


class StateRefused(Exception):
    """A step state that is altered, foreign, expired or for another version."""


@dataclass
class StepState:
    """What a stepped form's page carries: the answers so far and where it is."""

    submission_id: str
    data_key: bytes
    expires: int
    step: int = 0
    values: dict[str, str] = field(default_factory=dict)
    files: list[StoredFile] = field(default_factory=list)

    @property
    def staged_name(self) -> str:
        """Return the name of the folder its staged files wait in."""
        return f"{self.expires}-{self.submission_id}"

    @property
    def nonce(self) -> str:
        """Return the key that makes a session's send count once."""
        return f"steps-{self.submission_id}"

    def to_json(self) -> bytes:
        """Return the state as the JSON that is encrypted into the page."""
        data = {
            "format": FORMAT,
            "id": self.submission_id,
            "key": self.data_key.hex(),
            "expires": self.expires,
            "step": self.step,
            "values": self.values,
            "files": [dataclasses.asdict(f) for f in self.files],
        }
        return json.dumps(data, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "StepState":
        """Read a state back; a malformed one raises ValueError or similar."""
        data = json.loads(raw)
        if data["format"] != FORMAT:
            raise ValueError("unknown step state format")
        values = data["values"]
        if not all(isinstance(v, str) for v in values.values()):
            raise ValueError("a value is not text")
        return cls(
            submission_id=str(data["id"]),
            data_key=bytes.fromhex(data["key"]),
            expires=int(data["expires"]),
            step=int(data["step"]),
            values=dict(values),
            files=[StoredFile(**entry) for entry in data["files"]],
        )


class Steps:
    """The state key and the staged files of every stepped form in progress."""

    def __init__(self, portal: Portal, scheduler: Scheduler) -> None:
        self.portal = portal
        self.scheduler = scheduler
        folder = portal.config.portal_dir
        self.key = secret_file(folder / "steps.secret")
        self.staged_dir = ensure_private_dir(folder / "staged")
        # Per session: its lock and how many sends hold or wait for it.
        self._sending: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @property
    def session(self) -> timedelta:
        """Return how long a form session, and so its staged files, may last."""
        return timedelta(hours=self.portal.config.form_session_hours)

    def now(self) -> datetime:
        """Return the time by the portal's clock."""
        return self.portal.clock()

    def new_state(self) -> StepState:
        """Start a form session: a fresh submission id and data key."""
        expires = int((self.now() + self.session).timestamp())
        return StepState(secrets.token_hex(16), crypto.new_data_key(), expires)

    # The state in the page.

    def seal(self, state: StepState, binding: tuple[str, ...]) -> str:
        """Encrypt a state for a page of one form, one version and one browser."""
        blob = crypto.encrypt_step_state(self.key, binding, state.to_json())
        return base64.urlsafe_b64encode(blob).decode("ascii")

    def open(self, token: str, binding: tuple[str, ...]) -> StepState:
        """Decrypt and check a state from a page, or raise StateRefused."""
        try:
            blob = base64.urlsafe_b64decode(token.encode("ascii"))
            raw = crypto.decrypt_step_state(self.key, binding, blob)
        except (ValueError, binascii.Error, crypto.CryptoError) as error:
            raise StateRefused("altered or foreign") from error
        try:
            state = StepState.from_json(raw)
        except (ValueError, KeyError, TypeError) as error:
            raise StateRefused("malformed") from error
        if state.expires <= self.now().timestamp():
            raise StateRefused("expired")
        return state

    async def read_state(
        self, reader, binding: tuple[str, ...], field_count: int
    ) -> StepState:
        """Read the state, the part after the form token, and open it."""
        # Each value was read as one part of at most MAX_TEXT_PART bytes; JSON
        # may double a line break and base64 adds a third.
        limit = field_count * MAX_TEXT_PART * 3 + STATE_ALLOWANCE
        timeout = self.portal.config.uploads.idle_timeout_s
        try:
            async with asyncio.timeout(timeout):
                part = await reader.next()
                if (
                    not isinstance(part, BodyPartReader)
                    or part_names(part)[0] != STATE_FIELD
                ):
                    raise StateRefused("missing")
                data = bytearray()
                while chunk := await part.read_chunk(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        raise StateRefused("too large")
        except (ValueError, HttpProcessingError) as error:
            raise StateRefused("unreadable") from error
        return self.open(data.decode("ascii", "replace"), binding)

    # Staged files.

    def staged_folder(self, state: StepState) -> Path:
        """Return the folder a session's staged files wait in."""
        return self.staged_dir / state.staged_name

    def incoming_folder(self, state: StepState) -> Path:
        """Return a fresh folder for the files of one step's request."""
        return self.staged_folder(state) / f"incoming-{secrets.token_hex(8)}"

    # Limitation: a staged file can be replaced by choosing another one but not
    # taken back, so an optional file chosen by mistake goes with the send.
    async def keep(self, state: StepState, intake: Intake) -> None:
        """Move a step's sealed files to the session's staged files."""
        folder = self.staged_folder(state)
        replaced = {f.field for f in intake.files}
        for old in [f for f in state.files if f.field in replaced]:
            await asyncio.to_thread((folder / old.file_id).unlink, missing_ok=True)
        for stored in intake.files:
            await asyncio.to_thread(
                os.replace, intake.folder / stored.file_id, folder / stored.file_id
            )
        await intake.discard()
        state.files = [f for f in state.files if f.field not in replaced]
        state.files += intake.files
        if intake.files:
            self.expire_at(state.staged_name, state.expires)

    def missing_files(self, state: StepState) -> bool:
        """Say whether any staged file the state names is gone."""
        folder = self.staged_folder(state)
        return any(not (folder / f.file_id).is_file() for f in state.files)

    async def adopt(self, state: StepState, target: Path) -> None:
        """Move a session's staged files, still sealed, into its submission."""
        folder = self.staged_folder(state)
        await asyncio.to_thread(target.mkdir, mode=0o700, exist_ok=True)
        for stored in state.files:
            await asyncio.to_thread(
                os.replace, folder / stored.file_id, target / stored.file_id
            )
        await self.remove(state.staged_name)

    @contextlib.asynccontextmanager
    async def sending(self, state: StepState) -> AsyncIterator[None]:
        """Let one send of a session run at a time; forget the lock after the last."""
        lock, users = self._sending.setdefault(
            state.submission_id, (asyncio.Lock(), [0])
        )
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            # Dropped only when no send holds or waits for it, failed or not,
            # so a later send can never get a second lock beside a waiting one.
            users[0] -= 1
            if users[0] == 0:
                del self._sending[state.submission_id]

    def sends_under_way(self) -> int:
        """Return how many sessions have a send running or waiting."""
        return len(self._sending)

    def expire_at(self, name: str, expires: int) -> None:
        """Have the scheduler delete a session's staged files when it expires."""
        when = datetime.fromtimestamp(expires, self.now().tzinfo)
        self.scheduler.schedule(f"staged:{name}", when, lambda: self.remove(name))

    async def remove(self, name: str) -> None:
        """Delete a session's staged files."""
        self.scheduler.cancel(f"staged:{name}")
        folder = self.staged_dir / name
        if folder.exists():
            await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)
            log.info("Removed the staged files of a form session")

    async def start(self) -> None:
        """Delete expired sessions' staged files; schedule the others' expiry."""
        now = self.now().timestamp()
        for folder in list(self.staged_dir.iterdir()):
            expires, _, rest = folder.name.partition("-")
            if not expires.isdigit() or not rest or int(expires) <= now:
                await self.remove(folder.name)
            else:
                self.expire_at(folder.name, int(expires))


STEPS: web.AppKey[Steps] = web.AppKey("steps", Steps)
