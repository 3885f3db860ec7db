"""Where mails leave the server: an SMTP relay, or .eml files for development."""

import asyncio
import logging
import os
import secrets
import ssl
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from app.config import Config, Mail
from app.storage.db import ensure_private_dir, fsync_dir

log = logging.getLogger(__name__)


class TemporaryFailure(Exception):
    """The mail could not go now; trying again later may succeed."""


class PermanentFailure(Exception):
    """The relay refused the mail for good (a 5xx answer)."""

    def __init__(self, code: int, what: str) -> None:
        super().__init__(f"{what} ({code})")
        self.code = code


class PasswordFileError(Exception):
    """The SMTP password file is missing, empty or readable by others."""


def read_password(path: Path) -> str:
    """Return the first line of an owner-only password file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as error:
        raise PasswordFileError(
            f"cannot read the SMTP password file: {error}"
        ) from error
    with os.fdopen(fd, "r", encoding="utf-8") as file:
        mode = os.fstat(file.fileno()).st_mode
        if mode & 0o077:
            raise PasswordFileError(
                f"the SMTP password file {path} has mode {mode & 0o777:o}; "
                "it must be 0600 or 0400"
            )
        password = file.readline().rstrip("\r\n")
    if not password:
        raise PasswordFileError(f"the SMTP password file {path} is empty")
    return password


class SmtpTransport:
    """Deliver through an SMTP relay with STARTTLS, implicit TLS or neither."""

    def __init__(self, settings: Mail, password: str | None) -> None:
        self.settings = settings
        self.password = password

    async def deliver(self, message: EmailMessage) -> None:
        """Hand one mail to the relay, sorting failures into temporary and final."""
        settings = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.host,
                port=settings.port,
                username=settings.username or None,
                password=self.password,
                use_tls=settings.security == "tls",
                start_tls=settings.security == "starttls",
                tls_context=ssl.create_default_context(),
                timeout=settings.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refused.code for refused in error.recipients]
            raise _by_code(min(codes), "recipient refused") from error
        except aiosmtplib.SMTPResponseException as error:
            raise _by_code(error.code, "relay refused") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise TemporaryFailure(type(error).__name__) from error


def _by_code(code: int, what: str) -> Exception:
    if 500 <= code < 600:
        return PermanentFailure(code, what)
    return TemporaryFailure(f"{what} ({code})")


class DirectoryTransport:
    """Write each mail as an .eml file: the file is the mail, link included."""

    def __init__(self, folder: Path) -> None:
        self.folder = ensure_private_dir(folder)

    async def deliver(self, message: EmailMessage) -> None:
        """Store the mail durably as <random>.eml, owner-only."""
        await asyncio.to_thread(self._write, message.as_bytes())

    def _write(self, data: bytes) -> None:
        name = f"{secrets.token_hex(8)}.eml"
        tmp = self.folder / f".{name}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.folder / name)
            fsync_dir(self.folder)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise TemporaryFailure(type(error).__name__) from error


def make_transport(config: Config) -> SmtpTransport | DirectoryTransport:
    """Pick the relay of the config, or the outbox folder when none is set."""
    settings = config.mail
    if not settings.host:
        log.warning(
            "No SMTP host configured: mails are written to %s as .eml files "
            "(a development setting)",
            config.outbox_dir,
        )
        return DirectoryTransport(config.outbox_dir)
    password = read_password(settings.password_file) if settings.password_file else None
    log.info(
        "Mail goes out through %s:%s (%s)",
        settings.host,
        settings.port,
        settings.security,
    )
    return SmtpTransport(settings, password)
