"""Tenants and their first designs, read from themes/<slug>/tenant.yaml.

A theme file is the first version of a tenant's design; the back office
stores it on its first start, and from then on clerks change the design
there (see app/designs.py and app/backoffice/designs.py).
"""

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from app.forms.catalog import YamlError, load_yaml

log = logging.getLogger(__name__)

# Paths of the server's own: a tenant slug may never take one of them.
RESERVED_SLUGS = frozenset({"admin", "api", "healthz", "static", "l", "favicon.ico"})
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
LAYOUTS = ("classic", "centered", "banner")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAIL_ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
COLOR_KEYS = ("primary", "on_primary", "accent", "background", "text", "link")


class TenantError(Exception):
    """A tenant's file is missing something or says something impossible."""


@dataclass(frozen=True)
class Theme:
    layout: str
    logo_path: Path | None
    logo_url: str | None
    logo_alt: str
    colors: dict[str, str]
    imprint_url: str
    privacy_url: str
    contact_url: str
    footer_text: str
    # The design version this theme is; 0 for the file under themes/, which
    # the back office stores as version 1 on its first start.
    version: int = 0


@dataclass(frozen=True)
class Tenant:
    slug: str
    name: str
    short_name: str
    company_code: str
    creditor_id: str
    contact_email: str
    contact_phone: str
    theme: Theme
    receiver: str = "builtin"
    mail_from_name: str = ""
    mail_from_address: str = ""
    # Service providers that take orders: (name, e-mail address) each.
    providers: tuple[tuple[str, str], ...] = ()


def _text(data: dict, key: str, where: str, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise TenantError(f"{where}: {key!r} must be a non-empty text")
    return value.strip()


def _https_url(data: dict, key: str, where: str, mailto: bool = False) -> str:
    value = _text(data, key, where)
    if not value.startswith(("https://", "http://") + (("mailto:",) if mailto else ())):
        raise TenantError(f"{where}: {key!r} must be an http(s) address")
    return value


def _theme(data: dict, folder: Path, slug: str, where: str) -> Theme:
    layout = _text(data, "layout", where)
    if layout not in LAYOUTS:
        raise TenantError(f"{where}: layout must be one of {', '.join(LAYOUTS)}")
    colors = data.get("colors") or {}
    for key in COLOR_KEYS:
        if not COLOR.match(str(colors.get(key, ""))):
            raise TenantError(f"{where}: colors.{key} must be #rrggbb")
    logo = _text(data, "logo", where, required=False)
    logo_path = (folder / logo) if logo else None
    if logo_path and (logo_path.suffix.lower() != ".png" or not logo_path.is_file()):
        raise TenantError(f"{where}: logo must be a PNG file beside tenant.yaml")
    return Theme(
        layout=layout,
        logo_path=logo_path,
        logo_url=f"/static/tenant/{slug}/logo.png" if logo_path else None,
        logo_alt=_text(data, "logo_alt", where, required=False),
        colors={key: colors[key] for key in COLOR_KEYS},
        imprint_url=_https_url(data, "imprint_url", where),
        privacy_url=_https_url(data, "privacy_url", where),
        contact_url=_https_url(data, "contact_url", where, mailto=True),
        footer_text=_text(data, "footer_text", where, required=False),
    )


def _mail_sender(data: dict, where: str) -> tuple[str, str]:
    """Return the name and address the tenant's mails come from."""
    mail = data.get("mail") or {}
    if not isinstance(mail, dict):
        raise TenantError(f"{where}: 'mail' must be a mapping")
    name = _text(mail, "from_name", where, required=False) or data["name"]
    address = _text(mail, "from_address", where, required=False)
    address = address or _text(data, "contact_email", where)
    if any(c in name for c in "\r\n"):
        raise TenantError(f"{where}: mail.from_name must be one line")
    if any(c in address for c in "\r\n") or not MAIL_ADDRESS.match(address):
        raise TenantError(f"{where}: mail.from_address must be one plain address")
    return name, address


def _providers(data: dict, where: str) -> tuple[tuple[str, str], ...]:
    """Return the tenant's service providers, each with a name and an address."""
    entries = data.get("providers") or []
    if not isinstance(entries, list):
        raise TenantError(f"{where}: 'providers' must be a list")
    providers = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise TenantError(f"{where}: each provider needs a name and an email")
        name, email = _text(entry, "name", where), _text(entry, "email", where)
        if any(c in name for c in "\r\n") or not MAIL_ADDRESS.match(email):
            raise TenantError(f"{where}: provider {name!r} needs one plain address")
        providers.append((name, email))
    return tuple(providers)


def load_tenant(folder: Path) -> Tenant:
    """Read one tenant's file and check every value."""
    slug = folder.name
    where = f"{folder / 'tenant.yaml'}"
    if not SLUG.match(slug) or slug in RESERVED_SLUGS:
        raise TenantError(f"{where}: {slug!r} cannot be a tenant's address")
    try:
        # Every scalar stays a string: "1000" stays "1000", "no" stays "no".
        data = load_yaml((folder / "tenant.yaml").read_text("utf-8"))
    except (OSError, YamlError) as error:
        raise TenantError(f"{where}: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("theme"), dict):
        raise TenantError(f"{where}: expected a mapping with a 'theme' section")
    name = _text(data, "name", where)
    mail_from_name, mail_from_address = _mail_sender(data, where)
    return Tenant(
        slug=slug,
        name=name,
        short_name=_text(data, "short_name", where),
        company_code=_text(data, "company_code", where),
        creditor_id=_text(data, "creditor_id", where),
        contact_email=_text(data, "contact_email", where),
        contact_phone=_text(data, "contact_phone", where, required=False),
        theme=_theme(data["theme"], folder, slug, where),
        mail_from_name=mail_from_name,
        mail_from_address=mail_from_address,
        providers=_providers(data, where),
    )


def load_tenants(themes: Path) -> dict[str, Tenant]:
    """Read every tenant under the themes folder, refusing any broken one."""
    tenants = {
        folder.name: load_tenant(folder)
        for folder in sorted(themes.iterdir())
        if (folder / "tenant.yaml").is_file()
    }
    if not tenants:
        raise TenantError(f"no tenant found under {themes}")
    return tenants
