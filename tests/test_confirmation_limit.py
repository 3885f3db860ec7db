"""Confirmations cannot be turned on strangers: a daily limit per address,
counted under a keyed hash, and no link that a sender's text could make."""

import asyncio
import logging
import re
import time

import pytest

from app.application import create_app
from app.backoffice.confirmations import OVER_LIMIT, PER_ADDRESS_PER_DAY
from app.commands import publish_definition
from app.config import load_config
from app.keys import BACKOFFICE, OUTBOX, PORTAL, TENANTS
from tests.admin_helpers import log_in_clerk, page_text
from tests.conftest import send, wait_until_taken
from tests.test_links import smtp  # noqa: F401 (a fixture)

NOTE = """\
tenant: musterstadt
slug: notiz
title: Notiz senden
record_type: ZAEHLERSTAND
confirmation_mail: "true"
sections:
  - title: Notiz
    fields:
      - field: ZAEHLER_ANMERKUNG
      - field: KUNDE_EMAIL
        required: "true"
"""
TRAP = '<a href="https://falle.example/">Hier klicken</a> und https://falle.example/x'


@pytest.fixture
def relay(smtp):  # noqa: F811
    """The loopback SMTP server the app sends through."""
    return smtp


@pytest.fixture
async def client(aiohttp_client, data_dir, relay):
    mail = {"host": "127.0.0.1", "port": relay.port, "security": "none"}
    app = create_app(load_config(None, data=str(data_dir), mail=mail))
    client = await aiohttp_client(app)
    await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], NOTE, "t")
    return client


async def send_note(client, address: str, note: str = "Bitte anrufen.") -> None:
    fields = {"ZAEHLER_ANMERKUNG": note, "KUNDE_EMAIL": address}
    assert (await send(client, "/musterstadt/notiz", fields)).status == 200
    await wait_until_taken(client.app)


async def wait_until_mailed(client) -> None:
    """Wait until the outbox has handed every queued mail to the relay."""
    deadline = time.monotonic() + 10
    while await client.app[OUTBOX].store.waiting():
        assert time.monotonic() < deadline, "the mails did not leave in time"
        await asyncio.sleep(0.02)


async def test_an_address_gets_its_days_confirmations_and_then_none(
    client, relay, caplog
):
    caplog.set_level(logging.INFO, logger="app")
    for address in ["erika@beispiel.de", "Erika@Beispiel.de", " ERIKA@beispiel.de"]:
        await send_note(client, address)
    await send_note(client, "erika@BEISPIEL.de")
    await wait_until_mailed(client)
    assert len(relay.recorder.messages()) == PER_ADDRESS_PER_DAY
    records = await client.app[BACKOFFICE].store.records(None)
    notes = [r["confirmation_note"] for r in reversed(records)]
    assert notes == ["", "", "", OVER_LIMIT]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("No confirmation for submission" in w for w in warnings)
    assert not any("beispiel" in r.getMessage().lower() for r in caplog.records)


async def test_the_note_stands_on_the_records_page(client, relay):
    for _ in range(PER_ADDRESS_PER_DAY + 1):
        await send_note(client, "erika@beispiel.de")
    newest = (await client.app[BACKOFFICE].store.records(None))[0]
    await log_in_clerk(client)
    html = await page_text(client, f"/admin/records/{newest['id']}")
    assert f"<dt>Eingangsbestätigung</dt>\n    <dd>{OVER_LIMIT}</dd>" in html


async def test_another_address_still_gets_its_confirmation(client, relay):
    for _ in range(PER_ADDRESS_PER_DAY + 1):
        await send_note(client, "erika@beispiel.de")
    await send_note(client, "max@beispiel.de")
    await wait_until_mailed(client)
    assert [m["To"] for m in relay.recorder.messages()][-1] == "max@beispiel.de"
    assert len(relay.recorder.messages()) == PER_ADDRESS_PER_DAY + 1


async def test_the_count_keeps_no_address_only_a_keyed_hash(client, relay):
    await send_note(client, "erika@beispiel.de")
    db = client.app[BACKOFFICE].store.db
    rows = await db.fetchall(
        "SELECT tenant, address_hash, sent FROM confirmation_counts"
    )
    [(tenant, digest, sent)] = [tuple(row) for row in rows]
    assert (tenant, sent, re.fullmatch("[0-9a-f]{64}", digest) is not None) == (
        "musterstadt",
        1,
        True,
    )
    assert "erika" not in digest


async def test_a_senders_text_makes_no_link_in_the_html_mail(client, relay):
    await send_note(client, "erika@beispiel.de", TRAP)
    await wait_until_mailed(client)
    [mail] = relay.recorder.messages()
    html = mail.get_body(("html",)).get_content()
    hrefs = re.findall(r"<a\s[^>]*href=\"([^\"]*)\"", html)
    assert [h for h in hrefs if "falle" in h] == []
    assert (
        "&lt;a href=&#34;https://falle.example/&#34;&gt;Hier klicken&lt;/a&gt;" in html
    )
