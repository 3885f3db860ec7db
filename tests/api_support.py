"""What the API tests share: MODWORK's key pair, API keys, a tenant on MODWORK."""

from pathlib import Path

import aiohttp
import pytest
import yaml

from app import crypto
from app.api.auth import API_KEYS, create_key
from app.application import create_app
from app.config import ROOT, load_config
from tests.conftest import send

ALL_SCOPES = ["submissions:read", "submissions:ack", "forms:write", "links:write"]


@pytest.fixture
def modwork_key_path(tmp_path: Path) -> Path:
    path = tmp_path / "modwork.key"
    crypto.write_private_key(path, crypto.generate_private_key())
    return path


def public_hex(private_key_path: Path) -> str:
    """Return the public key, in hex, of a private key file."""
    return crypto.public_key_bytes(crypto.load_private_key(private_key_path)).hex()


def modwork_config(data_dir: Path, key_path: Path, webhook=None, **overrides):
    """Return a config whose tenant musterstadt is taken by MODWORK."""
    tenant = {"receiver": "modwork", "modwork_key": public_hex(key_path)}
    if webhook:
        tenant["webhook"] = webhook
    tenants = {"musterstadt": tenant}
    return load_config(None, data=str(data_dir), tenants=tenants, **overrides)


@pytest.fixture
async def api(aiohttp_client, data_dir, modwork_key_path):
    return await aiohttp_client(create_app(modwork_config(data_dir, modwork_key_path)))


async def new_key(client, tenant="musterstadt", scopes=None, name="modwork") -> str:
    """Create an API key in the running app and return it."""
    store = client.app[API_KEYS]
    return await create_key(store, tenant, name, scopes or ALL_SCOPES)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def write_config(folder: Path, key_path: Path, **settings) -> Path:
    """Write a config file putting musterstadt on MODWORK, plus any settings."""
    tenant = {"receiver": "modwork", "modwork_key": public_hex(key_path)}
    tenant.update(settings.pop("musterstadt", {}))
    path = folder / "config.yaml"
    settings = {"themes": str(ROOT / "themes"), **settings}
    path.write_text(yaml.safe_dump({"tenants": {"musterstadt": tenant}, **settings}))
    return path


def owner_only_file(path: Path, text: str) -> Path:
    """Write a secret to a file only its owner may read."""
    path.write_text(text)
    path.chmod(0o600)
    return path


async def live_send(url: str, path: str, fields: dict, files=None):
    """Send a form to a running server as a browser would; return status, text."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=url, cookie_jar=jar) as session:
        response = await send(session, path, fields, files)
        return response.status, await response.text()
