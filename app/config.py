"""Configuration: one YAML file, flags over it, defaults under it."""

import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1",
    "port": 8080,
    "data": "data",
    "public_url": "",
    "themes": "themes",
    "tls": {"cert": "", "key": ""},
    "trusted_proxies": [],
    "uploads": {
        "max_file_bytes": 10_000_000,
        "max_submission_bytes": 25_000_000,
        "max_pixels": 40_000_000,
        "max_files": 10,
        "idle_timeout_s": 60,
        "send_timeout_s": 1800,
    },
    "throttle": {
        "submissions_per_minute": 20,
        "logins_per_minute": 5,
        "link_opens_per_minute": 10,
    },
    "form_session_hours": 4,
    "grace_minutes": 60,
    "receiver": {"batch_size": 200},
    "links": {"expiry_days": 14, "session_minutes": 60},
    "mail": {
        "host": "",
        "port": 587,
        "security": "starttls",
        "username": "",
        "password_file": "",
        "timeout_seconds": 30,
        "give_up_hours": 48,
    },
    "log_level": "INFO",
    "internal": {"host": "", "port": 8081},
    "webhooks": {
        "first_retry_seconds": 5,
        "max_retry_seconds": 900,
        "attempts": 12,
    },
    "tenants": {},
}
# What each entry under `tenants` may say; every key is optional.
TENANT_DEFAULTS: dict[str, Any] = {
    "receiver": "builtin",
    "modwork_key": "",
    "webhook": {"url": "", "secret_file": ""},
}
RECEIVER_KINDS = ("builtin", "modwork")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(Exception):
    """A configuration value is missing, unknown or of the wrong kind."""


@dataclass(frozen=True)
class Uploads:
    max_file_bytes: int
    max_submission_bytes: int
    max_pixels: int
    max_files: int
    idle_timeout_s: int
    send_timeout_s: int


@dataclass(frozen=True)
class TenantSettings:
    """Who takes a tenant's submissions, and where MODWORK hears of them."""

    receiver: str
    modwork_key: bytes | None
    webhook_url: str
    webhook_secret_file: Path | None


@dataclass(frozen=True)
class Webhooks:
    first_retry_seconds: int
    max_retry_seconds: int
    attempts: int


MAIL_SECURITY = ("starttls", "tls", "none")


@dataclass(frozen=True)
class Mail:
    """How mail leaves the server; no host means .eml files under data/outbox/."""

    host: str
    port: int
    security: str
    username: str
    password_file: Path | None
    timeout_seconds: int
    give_up_hours: int


@dataclass(frozen=True)
class Config:
    host: str
    port: int
    data: Path
    public_url: str
    themes: Path
    tls_cert: Path | None
    tls_key: Path | None
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    uploads: Uploads
    submissions_per_minute: int
    logins_per_minute: int
    form_session_hours: int
    grace_minutes: int
    batch_size: int
    log_level: str
    internal_host: str = ""
    internal_port: int = 8081
    webhooks: Webhooks = field(default_factory=lambda: Webhooks(5, 900, 12))
    tenant_settings: dict[str, TenantSettings] = field(default_factory=dict)
    source: Path | None = field(default=None)
    link_opens_per_minute: int = 10
    link_expiry_days: int = 14
    link_session_minutes: int = 60
    mail: Mail = field(
        default_factory=lambda: Mail("", 587, "starttls", "", None, 30, 48)
    )

    @property
    def portal_dir(self) -> Path:
        return self.data / "portal"

    @property
    def backoffice_dir(self) -> Path:
        return self.data / "backoffice"

    @property
    def outbox_dir(self) -> Path:
        return self.data / "outbox"

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def internal(self) -> bool:
        """Say whether /admin/ and /api/ have a listener of their own."""
        return bool(self.internal_host)

    @property
    def admin_url(self) -> str:
        """Return the address clerks and MODWORK reach /admin/ and /api/ at."""
        if not self.internal:
            return self.public_url
        scheme = "https" if self.tls else "http"
        host = self.internal_host
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{self.internal_port}"

    def tenant(self, slug: str) -> TenantSettings:
        """Return a tenant's settings, the defaults where the file says nothing."""
        return self.tenant_settings.get(slug) or TenantSettings(
            "builtin", None, "", None
        )


def _merge(defaults: dict, given: dict, prefix: str = "") -> dict:
    """Merge given values over defaults, refusing unknown keys and wrong kinds."""
    merged = dict(defaults)
    for key, value in given.items():
        name = f"{prefix}{key}"
        if key not in defaults:
            raise ConfigError(f"unknown setting {name!r}")
        default = defaults[key]
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"setting {name!r} must be a mapping")
            merged[key] = _merge(default, value, f"{name}.")
        elif isinstance(default, bool) or type(value) is not type(default):
            raise ConfigError(
                f"setting {name!r} must be {type(default).__name__}, "
                f"not {type(value).__name__}"
            )
        else:
            merged[key] = value
    return merged


def _path(value: str, base: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base / path)


def _positive(values: dict, section: str) -> None:
    for key, value in values.items():
        if value <= 0:
            raise ConfigError(f"setting '{section}.{key}' must be positive")


def _anchor_paths(given: dict, folder: Path) -> None:
    """Make a file's relative paths relative to the file's own folder."""
    for key in ("data", "themes"):
        if isinstance(given.get(key), str) and given[key]:
            given[key] = str(_path(given[key], folder))
    tls = given.get("tls")
    if isinstance(tls, dict):
        for key in ("cert", "key"):
            if isinstance(tls.get(key), str) and tls[key]:
                tls[key] = str(_path(tls[key], folder))


def _public_key(value: str, name: str) -> bytes | None:
    """Read an X25519 public key written as 64 hex digits, or nothing."""
    if not value:
        return None
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ConfigError(f"setting {name!r} must be 64 hex digits")
    return key


def _tenant_settings(given: Any, base: Path) -> dict[str, TenantSettings]:
    """Check the per-tenant section: receiver, MODWORK's key and the webhook."""
    if not isinstance(given, dict):
        raise ConfigError("setting 'tenants' must be a mapping")
    settings = {}
    for slug, entry in given.items():
        name = f"tenants.{slug}"
        if not isinstance(entry, dict):
            raise ConfigError(f"setting {name!r} must be a mapping")
        raw = _merge(TENANT_DEFAULTS, entry, f"{name}.")
        if raw["receiver"] not in RECEIVER_KINDS:
            raise ConfigError(f"setting '{name}.receiver' must be builtin or modwork")
        key = _public_key(raw["modwork_key"], f"{name}.modwork_key")
        webhook = raw["webhook"]
        if bool(webhook["url"]) != bool(webhook["secret_file"]):
            raise ConfigError(
                f"settings '{name}.webhook.url' and .secret_file go together"
            )
        if webhook["url"] and not webhook["url"].startswith(("http://", "https://")):
            raise ConfigError(
                f"setting '{name}.webhook.url' must be an http(s) address"
            )
        secret = webhook["secret_file"]
        settings[str(slug)] = TenantSettings(
            receiver=raw["receiver"],
            modwork_key=key,
            webhook_url=webhook["url"],
            webhook_secret_file=_path(secret, base) if secret else None,
        )
    return settings


def load_config(path: Path | None = None, **overrides: Any) -> Config:
    """Read the config file, lay flags over it and check the result."""
    given: dict = {}
    if path is not None:
        try:
            given = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"cannot read config {path}: {error}") from error
        if not isinstance(given, dict):
            raise ConfigError(f"config {path} must be a mapping at the top")
    if path is not None:
        _anchor_paths(given, path.parent.resolve())
    given.update({k: v for k, v in overrides.items() if v is not None})
    # Tenant slugs are the keys under `tenants`, so they are checked on their own.
    tenants = given.pop("tenants", {})
    raw = _merge(DEFAULTS, given)
    # What is still relative now is a default: it lives in the project.
    base = ROOT
    file_base = path.parent.resolve() if path is not None else ROOT

    if raw["log_level"] not in LOG_LEVELS:
        raise ConfigError(f"setting 'log_level' must be one of {', '.join(LOG_LEVELS)}")
    _positive(raw["uploads"], "uploads")
    _positive(raw["throttle"], "throttle")
    _positive(raw["webhooks"], "webhooks")
    _positive(raw["links"], "links")
    mail = _mail(raw["mail"], file_base)
    internal = raw["internal"]
    for key, port in (("port", raw["port"]), ("internal.port", internal["port"])):
        if not 0 < port < 65536:
            raise ConfigError(f"setting {key!r} must be between 1 and 65535")
    if internal["host"] and internal["port"] == raw["port"]:
        # The listeners are told apart by their port.
        raise ConfigError("setting 'internal.port' must differ from 'port'")
    tls = raw["tls"]
    if bool(tls["cert"]) != bool(tls["key"]):
        raise ConfigError("settings 'tls.cert' and 'tls.key' go together")
    try:
        proxies = tuple(ipaddress.ip_network(p) for p in raw["trusted_proxies"])
    except (TypeError, ValueError) as error:
        raise ConfigError(f"setting 'trusted_proxies': {error}") from error
    scheme = "https" if tls["cert"] else "http"
    host = f"[{raw['host']}]" if ":" in raw["host"] else raw["host"]
    public_url = raw["public_url"] or f"{scheme}://{host}:{raw['port']}"
    if not public_url.startswith(("http://", "https://")):
        raise ConfigError("setting 'public_url' must start with http:// or https://")
    return Config(
        host=raw["host"],
        port=raw["port"],
        data=_path(raw["data"], base),
        public_url=public_url.rstrip("/"),
        themes=_path(raw["themes"], base),
        tls_cert=_path(tls["cert"], base) if tls["cert"] else None,
        tls_key=_path(tls["key"], base) if tls["key"] else None,
        trusted_proxies=proxies,
        uploads=Uploads(**raw["uploads"]),
        submissions_per_minute=raw["throttle"]["submissions_per_minute"],
        logins_per_minute=raw["throttle"]["logins_per_minute"],
        form_session_hours=raw["form_session_hours"],
        grace_minutes=raw["grace_minutes"],
        batch_size=raw["receiver"]["batch_size"],
        log_level=raw["log_level"],
        internal_host=internal["host"],
        internal_port=internal["port"],
        webhooks=Webhooks(**raw["webhooks"]),
        tenant_settings=_tenant_settings(tenants, file_base),
        source=path,
        link_opens_per_minute=raw["throttle"]["link_opens_per_minute"],
        link_expiry_days=raw["links"]["expiry_days"],
        link_session_minutes=raw["links"]["session_minutes"],
        mail=mail,
    )


def _mail(raw: dict, base: Path) -> Mail:
    """Check the mail settings; a login needs its password file."""
    if raw["security"] not in MAIL_SECURITY:
        raise ConfigError(
            f"setting 'mail.security' must be one of {', '.join(MAIL_SECURITY)}"
        )
    if not 0 < raw["port"] < 65536:
        raise ConfigError("setting 'mail.port' must be between 1 and 65535")
    _positive({k: raw[k] for k in ("timeout_seconds", "give_up_hours")}, "mail")
    if bool(raw["username"]) != bool(raw["password_file"]):
        raise ConfigError(
            "settings 'mail.username' and 'mail.password_file' go together"
        )
    for key in ("host", "username"):
        if any(c in raw[key] for c in "\r\n"):
            raise ConfigError(f"setting 'mail.{key}' may not hold a line break")
    return Mail(
        host=raw["host"],
        port=raw["port"],
        security=raw["security"],
        username=raw["username"],
        password_file=_path(raw["password_file"], base)
        if raw["password_file"]
        else None,
        timeout_seconds=raw["timeout_seconds"],
        give_up_hours=raw["give_up_hours"],
    )
