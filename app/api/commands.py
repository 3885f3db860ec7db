"""The admin's commands for MODWORK: API keys, its public key, its key pair."""

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from app import crypto
from app.api.auth import create_key, parse_scopes, revoke_key
from app.api.receivers import modwork_receiver, parse_public_key
from app.config import Config
from app.portal.service import Portal
from app.storage import schema
from app.storage.api import ApiKeyStore, DuplicateKeyName
from app.storage.db import Database, ensure_private_dir, open_database
from app.tenants import load_tenants

log = logging.getLogger(__name__)


class CommandError(Exception):
    """A command that cannot be done; the message says why, for the admin."""


@contextlib.asynccontextmanager
async def _portal_db(config: Config) -> AsyncIterator[Database]:
    db = await open_database(config.portal_dir / "portal.db", schema.PORTAL)
    try:
        yield db
    finally:
        await db.close()


def _known_tenant(config: Config, tenant: str) -> None:
    if tenant not in load_tenants(config.themes):
        raise CommandError(f"unknown tenant: {tenant}")


async def add_api_key(config: Config, tenant: str, name: str, scopes: list[str]) -> str:
    """Create a tenant's API key with scopes; return the key, shown this once."""
    _known_tenant(config, tenant)
    try:
        chosen = parse_scopes(scopes)
    except ValueError as error:
        raise CommandError(str(error)) from error
    if not name.strip():
        raise CommandError("the key needs a name")
    async with _portal_db(config) as db:
        try:
            return await create_key(ApiKeyStore(db), tenant, name.strip(), chosen)
        except DuplicateKeyName as error:
            raise CommandError(
                f"{tenant} has a live key named {name!r}; revoke it first"
            ) from error


async def revoke_api_key(config: Config, tenant: str, name: str) -> bool:
    """End a tenant's API key of this name at once; return whether one was live."""
    _known_tenant(config, tenant)
    async with _portal_db(config) as db:
        return await revoke_key(ApiKeyStore(db), tenant, name.strip())


def set_modwork_key(config: Config, tenant: str, public_key: str) -> str:
    """Register MODWORK's public key for a tenant; return the receiver's name."""
    _known_tenant(config, tenant)
    if config.tenant(tenant).modwork_key is not None:
        # One source of truth: a key in the config is registered at every
        # start, so a key set here would be undone by the next restart.
        raise CommandError(
            f"the config names MODWORK's key for {tenant} "
            f"(tenants.{tenant}.modwork_key): change it there"
        )
    try:
        raw = parse_public_key(public_key)
    except crypto.CryptoError as error:
        raise CommandError(str(error)) from error
    receiver = modwork_receiver(tenant)
    # Only the receivers folder is touched, so no database is needed.
    folder = ensure_private_dir(config.portal_dir / "receivers")
    Portal.write_receiver_key(folder, receiver, raw)
    log.info("Registered MODWORK's public key for %s", tenant)
    return receiver


def new_receiver_key(path: Path) -> str:
    """Write a new receiver key pair's private key; return the public key in hex."""
    if path.exists():
        raise CommandError(f"{path} exists already; it is never overwritten")
    key = crypto.generate_private_key()
    crypto.write_private_key(path, key)
    return crypto.public_key_bytes(key).hex()
