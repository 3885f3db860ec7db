"""Clerks' passwords and sessions."""

import asyncio
import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from aiohttp import web

from app import crypto
from app.clock import iso, utcnow
from app.keys import BACKOFFICE, CLERK
from app.storage.backoffice import Clerk
from app.web import PageError, is_secure

SESSION_COOKIE = "mp_admin"
SESSION_HOURS = 8
MIN_PASSWORD = 12
# scrypt at N=2**15, r=8 costs 32 MiB and tens of milliseconds per check.
SCRYPT = {"n": 2**15, "r": 8, "p": 1, "maxmem": 64 * 1024 * 1024, "dklen": 32}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password_sync(password: str) -> str:
    """Hash a password with scrypt and a fresh salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return f"scrypt$15$8$1${_b64(salt)}${_b64(digest)}"


def check_password_sync(password: str, stored: str) -> bool:
    """Check a password against its stored scrypt hash, in constant time."""
    try:
        scheme, log_n, r, p, salt, digest = stored.split("$")
        params = {**SCRYPT, "n": 2 ** int(log_n), "r": int(r), "p": int(p)}
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), **params
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


async def hash_password(password: str) -> str:
    """Hash a password off the event loop."""
    return await asyncio.to_thread(hash_password_sync, password)


async def check_password(password: str, stored: str) -> bool:
    """Check a password off the event loop."""
    return await asyncio.to_thread(check_password_sync, password, stored)


def password_problem(password: str, repeat: str | None = None) -> str | None:
    """Return what is wrong with a new password, in German, or None."""
    if len(password) < MIN_PASSWORD:
        return f"Das Passwort muss mindestens {MIN_PASSWORD} Zeichen lang sein."
    if repeat is not None and password != repeat:
        return "Die beiden Passwörter stimmen nicht überein."
    return None


def session_csrf(token: str) -> str:
    """Derive a session's form token from its secret, so it is never stored."""
    return hmac.new(token.encode(), b"admin csrf", hashlib.sha256).hexdigest()


async def start_session(
    request: web.Request, response: web.StreamResponse, clerk: Clerk
) -> None:
    """Create a server-side session and give the browser its cookie."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    expires = now + timedelta(hours=SESSION_HOURS)
    await request.app[BACKOFFICE].store.add_session(
        crypto.token_hash(token), clerk.id, iso(now), iso(expires)
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=is_secure(request),
        path="/admin",
        max_age=SESSION_HOURS * 3600,
    )


async def current_clerk(request: web.Request) -> Clerk | None:
    """Return the clerk of the request's session, if it is live."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await request.app[BACKOFFICE].store.session_clerk(
        crypto.token_hash(token), iso(utcnow())
    )


async def require_clerk(request: web.Request) -> Clerk:
    """Return the logged-in clerk or send the browser to the login page."""
    clerk = await current_clerk(request)
    if clerk is None:
        raise web.HTTPSeeOther("/admin/login")
    request[CLERK] = clerk
    return clerk


def check_csrf(request: web.Request, sent: str) -> None:
    """Refuse a clerk's form that does not carry the session's token."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or not hmac.compare_digest(session_csrf(token), sent or ""):
        raise PageError(
            403, "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu."
        )


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    """Delete the session on the server and its cookie in the browser."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await request.app[BACKOFFICE].store.end_session(crypto.token_hash(token))
    response.del_cookie(SESSION_COOKIE, path="/admin")
