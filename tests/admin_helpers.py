"""Helpers of the back-office tests: a settable clock, clerks and their forms."""

import re
from datetime import datetime, timedelta

from app.backoffice.auth import hash_password
from app.clock import iso, utcnow
from app.keys import BACKOFFICE
from tests.conftest import csrf_token, form_data

PASSWORD = "ein langes Passwort"
ADMIN = "/admin/forms/musterstadt"
ADMIN_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


class Clock:
    """A clock the test sets; the app reads it wherever it asks for now."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock on."""
        self.now += timedelta(**delta)


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


async def page_text(client, path: str, status: int = 200) -> str:
    """Fetch a page, check its status and return its text."""
    response = await client.get(path)
    assert response.status == status, await response.text()
    return await response.text()


__all__ = ["Clock", "form_data", "log_in_clerk", "page_text", "post"]
