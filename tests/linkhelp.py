"""Helpers for tests of secure links: make one, read its mail, fill its form."""

import asyncio
import re
import time
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from app.backoffice.links import LinkRequest
from app.keys import CONFIG, LINK_OFFICE
from tests.conftest import csrf_token, form_data

LINK = re.compile(r"https?://[^\s/]+(/l/[0-9a-f]{16}\.[A-Za-z0-9_-]{43})")
PREFILL = {"BANK_KONTOINHABER": "Erika Mustermann", "KUNDE_ORT": "Dresden"}


async def make_link(client, values=None, slug="sepa-mandat", **wishes) -> str:
    """Have the back office make a link and queue its mail; return its id."""
    wanted = LinkRequest(
        "musterstadt",
        slug,
        "erika@beispiel.de",
        dict(PREFILL if values is None else values),
        **wishes,
    )
    return await client.app[LINK_OFFICE].create(wanted, "test")


def outbox_files(folder: Path) -> list[Path]:
    """Return the .eml files written so far, oldest first."""
    return sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)


async def wait_for_mails(folder: Path, count: int) -> list[EmailMessage]:
    """Wait until the outbox folder holds `count` mails and return them."""
    deadline = time.monotonic() + 10
    while len(outbox_files(folder)) < count:
        assert time.monotonic() < deadline, "the mail was not written in time"
        await asyncio.sleep(0.02)
    return [
        message_from_bytes(p.read_bytes(), policy=default) for p in outbox_files(folder)
    ]


def link_path(message: EmailMessage) -> str:
    """Return the /l/<token> path of the link a mail carries."""
    match = LINK.search(message.get_body(("plain",)).get_content())
    assert match, "the mail carries no link"
    return match.group(1)


async def mailed_link(client, count: int = 1) -> str:
    """Return the link path of the newest of `count` mails."""
    mails = await wait_for_mails(client.app[CONFIG].outbox_dir, count)
    return link_path(mails[-1])


async def send_link_form(client, path: str, fields: dict, files=None):
    """Open a link, then send its form with these fields."""
    page = await client.get(path)
    assert page.status == 200, await page.text()
    action = page.url.path
    return await client.post(
        action, data=form_data(csrf_token(await page.text()), fields, files)
    )


async def wait_for_state(client, link_id: str, state: str) -> None:
    """Wait until the back office sees a link in a state."""
    store = client.app[LINK_OFFICE].store
    deadline = time.monotonic() + 10
    while (await store.link(link_id)).state != state:
        assert time.monotonic() < deadline, f"link never became {state}"
        await asyncio.sleep(0.02)
