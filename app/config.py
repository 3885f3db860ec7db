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
    },
    "form_session_hours": 4,
    "grace_minutes": 60,
    "receiver": {"batch_size": 200},
    "log_level": "INFO",
}


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

    @property
    def portal_dir(self) -> Path:
        return self.data / "portal"

    @property
    def backoffice_dir(self) -> Path:
        return self.data / "backoffice"

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
    raw = _merge(DEFAULTS, given)
    # What is still relative now is a default: it lives in the project.
    base = ROOT

    if raw["log_level"] not in LOG_LEVELS:
        raise ConfigError(f"setting 'log_level' must be one of {', '.join(LOG_LEVELS)}")
    _positive(raw["uploads"], "uploads")
    _positive(raw["throttle"], "throttle")
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
        source=path,
    )
