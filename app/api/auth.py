"""MODWORK's API keys: made once, kept as a hash, checked on every request."""

import logging
import secrets

from aiohttp import web

from app import crypto
from app.clock import iso, utcnow
from app.storage.api import ApiKey, ApiKeyStore
from app.web import Problem

log = logging.getLogger(__name__)

SCOPES = ("submissions:read", "submissions:ack", "forms:write", "links:write")
KEY_PREFIX = "mpk_"
API_KEYS: web.AppKey[ApiKeyStore] = web.AppKey("api_keys")
API_KEY: web.RequestKey[ApiKey] = web.RequestKey("api_key", object)


class ScopeError(ValueError):
    """A scope that the API does not know."""


def parse_scopes(given: list[str]) -> list[str]:
    """Split scopes given with commas or spaces, refusing unknown ones."""
    scopes = sorted({s for item in given for s in item.replace(",", " ").split()})
    if unknown := [s for s in scopes if s not in SCOPES]:
        raise ScopeError(f"unknown scope: {', '.join(unknown)} (known: {SCOPES})")
    if not scopes:
        raise ScopeError(f"give at least one scope out of {', '.join(SCOPES)}")
    return scopes


async def create_key(
    store: ApiKeyStore, tenant: str, name: str, scopes: list[str]
) -> str:
    """Make a new key, store only its hash and return the key, to be shown once."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = await store.add(
        tenant, name, scopes, crypto.token_hash(key), iso(utcnow())
    )
    log.info("Created API key %s for %s", key_id, tenant)
    return key


async def revoke_key(store: ApiKeyStore, tenant: str, name: str) -> bool:
    """End a tenant's key at once; return whether a live one was found."""
    revoked = await store.revoke(tenant, name, iso(utcnow()))
    if revoked:
        log.info("Revoked an API key of %s", tenant)
    return revoked


def _unauthorized(reason: str) -> Problem:
    log.warning("Refused an API request: %s", reason)
    challenge = 'Bearer realm="modportal"'
    if reason != "no key":
        challenge += ', error="invalid_token"'
    return Problem(401, headers={"WWW-Authenticate": challenge})


async def require_key(request: web.Request, scope: str) -> ApiKey:
    """Return the request's live key if it carries the scope; refuse otherwise."""
    # Limitation: API calls are not throttled; a key has 256 random bits, so
    # guessing one is hopeless, but a holder of a valid key may call at will.
    header = request.headers.get("Authorization", "")
    kind, _, given = header.partition(" ")
    if not header:
        raise _unauthorized("no key")
    if kind.lower() != "bearer" or not given.strip().startswith(KEY_PREFIX):
        raise _unauthorized("not a bearer key")
    if not given.strip().isascii():
        # Keys are ASCII; undecodable header bytes arrive as surrogates.
        raise _unauthorized("not a key")
    key = await request.app[API_KEYS].live_key(crypto.token_hash(given.strip()))
    if key is None:
        raise _unauthorized("unknown or revoked key")
    if scope not in key.scopes:
        log.warning("Refused API key %s without scope %s", key.id, scope)
        raise Problem(
            403,
            f"Diesem API-Schlüssel fehlt die Berechtigung {scope}.",
            headers={
                "WWW-Authenticate": (
                    f'Bearer realm="modportal", error="insufficient_scope", '
                    f'scope="{scope}"'
                )
            },
        )
    request[API_KEY] = key
    return key
