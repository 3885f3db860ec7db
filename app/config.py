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
}


class ConfigError(Exception):
    """A configuration value is missing, unknown or of the wrong kind."""


@dataclass(frozen=True)
class Uploads:
    max_file_bytes: int
    max_submission_bytes: int
    max_pixels: int
    max_files: int


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
    given.update({k: v for k, v in overrides.items() if v is not None})
    raw = _merge(DEFAULTS, given)
    # Relative paths in a file are read from the file's folder, defaults from
    # the project's; flags arrive absolute from run.py.
    base = path.parent.resolve() if path is not None else ROOT

    _positive(raw["uploads"], "uploads")
    _positive(raw["throttle"], "throttle")
    _positive(raw["links"], "links")
    mail = _mail(raw["mail"], base)
    if not 0 < raw["port"] < 65536:
        raise ConfigError("setting 'port' must be between 1 and 65535")
    tls = raw["tls"]
    if bool(tls["cert"]) != bool(tls["key"]):
        raise ConfigError("settings 'tls.cert' and 'tls.key' go together")
    try:
        proxies = tuple(ipaddress.ip_network(p) for p in raw["trusted_proxies"])
    except (TypeError, ValueError) as error:
        raise ConfigError(f"setting 'trusted_proxies': {error}") from error
    scheme = "https" if tls["cert"] else "http"
    public_url = raw["public_url"] or f"{scheme}://{raw['host']}:{raw['port']}"
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
