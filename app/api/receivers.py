"""Per tenant, who takes its submissions: the built-in back office or MODWORK.

The choice and MODWORK's public key come from the config file or from the
admin's command, never from the API, so a stolen API key cannot make the
portal seal to another key. A submission remembers the receiver it was
sealed for, so switching a tenant leaves what is pending with its old one.
"""

import dataclasses
import logging

from app import crypto
from app.backoffice.service import RECEIVER as BUILTIN
from app.config import Config, ConfigError
from app.portal.service import Portal
from app.tenants import Tenant

log = logging.getLogger(__name__)


def modwork_receiver(tenant: str) -> str:
    """Return the receiver name under which a tenant's MODWORK takes submissions."""
    return f"modwork-{tenant}"


def apply_receivers(tenants: dict[str, Tenant], config: Config) -> dict[str, Tenant]:
    """Give each tenant the receiver its settings name."""
    if unknown := sorted(set(config.tenant_settings) - set(tenants)):
        raise ConfigError(f"setting 'tenants' names unknown tenant {unknown[0]!r}")
    chosen = {}
    for slug, tenant in tenants.items():
        kind = config.tenant(slug).receiver
        receiver = modwork_receiver(slug) if kind == "modwork" else BUILTIN
        chosen[slug] = dataclasses.replace(tenant, receiver=receiver)
    return chosen


def has_key(portal: Portal, receiver: str) -> bool:
    """Say whether the portal holds a public key for the receiver."""
    return (portal.receivers_dir / f"{receiver}.pub").is_file()


def register_modwork_keys(
    portal: Portal, tenants: dict[str, Tenant], config: Config
) -> None:
    """Keep MODWORK's keys named in the config; refuse a MODWORK without one."""
    for slug, tenant in tenants.items():
        key = config.tenant(slug).modwork_key
        if key is not None:
            if not crypto.can_seal_to(key):
                raise ConfigError(
                    f"setting 'tenants.{slug}.modwork_key' is no usable X25519 "
                    "public key: nothing can be sealed to it"
                )
            portal.register_receiver(modwork_receiver(slug), key)
        if tenant.receiver != BUILTIN and not has_key(portal, tenant.receiver):
            raise ConfigError(
                f"tenant {slug!r} has receiver modwork but no key: set "
                f"'tenants.{slug}.modwork_key' or run set-modwork-key"
            )
        log.info("Tenant %s is taken by %s", slug, tenant.receiver)


def parse_public_key(text: str) -> bytes:
    """Read MODWORK's public key as 64 hex digits."""
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError as error:
        raise crypto.CryptoError("the public key must be 64 hex digits") from error
    if not crypto.can_seal_to(raw):
        raise crypto.CryptoError("nothing can be sealed to this public key")
    return raw
