"""Clerks for tests: create one in the real store and log it in."""

import re

from app.backoffice.auth import hash_password
from app.clock import iso, utcnow
from app.keys import BACKOFFICE
from tests.conftest import csrf_token, form_data

PASSWORD = "ein langes Passwort"
ADMIN_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


async def log_in_clerk(client, name: str = "anna", tenants=None) -> str:
    """Create a clerk, log it in on the client and return the session's token."""
    store = client.app[BACKOFFICE].store
    await store.save_clerk(name, await hash_password(PASSWORD), tenants, iso(utcnow()))
    page = await client.get("/admin/login")
    token = csrf_token(await page.text())
    fields = {"name": name, "password": PASSWORD, "csrf_token": token}
    response = await client.post("/admin/login", data=fields, allow_redirects=False)
    assert response.status == 303, await response.text()
    records = await (await client.get("/admin/records")).text()
    return ADMIN_TOKEN.search(records).group(1)


async def post(client, path: str, token: str, fields: dict | None = None):
    """Send a clerk's form as a browser does, without following the redirect."""
    data = {"csrf_token": token, **(fields or {})}
    return await client.post(path, data=data, allow_redirects=False)


__all__ = ["form_data", "log_in_clerk", "post"]
