"""Signed form tokens bound to a browser cookie, for every form we serve."""

import base64
import hashlib
import hmac
import secrets
import struct
import time
from dataclasses import dataclass

COOKIE = "mp_csrf"
_LAYOUT = struct.Struct(">16sQI")


@dataclass(frozen=True)
class Claim:
    """What a valid token vouches for."""

    nonce: str
    issued_at: int
    version: int


class CsrfError(Exception):
    """The token is missing, forged, expired or meant for another form."""


def new_cookie_value() -> str:
    """Return a fresh random value for the browser's CSRF cookie."""
    return secrets.token_urlsafe(24)


def _mac(secret: bytes, cookie: str, purpose: str, payload: bytes) -> bytes:
    message = b"\x00".join((cookie.encode(), purpose.encode(), payload))
    return hmac.new(secret, message, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(secret: bytes, cookie: str, purpose: str, version: int = 0) -> str:
    """Make a token for one form instance: a nonce, its time and its version."""
    payload = _LAYOUT.pack(secrets.token_bytes(16), int(time.time()), version)
    return f"{_b64(payload)}.{_b64(_mac(secret, cookie, purpose, payload))}"


def verify(
    secret: bytes, cookie: str | None, purpose: str, token: str, max_age_s: int
) -> Claim:
    """Check a token against the cookie and purpose, and return its claim."""
    if not cookie or not token or token.count(".") != 1:
        raise CsrfError("missing")
    payload_text, mac_text = token.split(".")
    try:
        payload, mac = _unb64(payload_text), _unb64(mac_text)
        nonce, issued_at, version = _LAYOUT.unpack(payload)
    except (ValueError, struct.error) as error:
        raise CsrfError("malformed") from error
    if not hmac.compare_digest(mac, _mac(secret, cookie, purpose, payload)):
        raise CsrfError("forged")
    if not 0 <= time.time() - issued_at <= max_age_s:
        raise CsrfError("expired")
    return Claim(nonce.hex(), issued_at, version)
