"""A link's pre-fill leaves the back office once the link is over.

The back office keeps a link's values only while the link may still be
opened: at its return, expiry, revocation or lock the column is cleared, and
no byte of what it held stays in the database's files (secure_delete zeroes
the freed space, a checkpoint empties the WAL).
"""

import asyncio
import random
import string
import time

import pytest

from app.backoffice.links import PREFILL_GONE, LinkError
from app.keys import BACKOFFICE, CONFIG, LINK_OFFICE, PORTAL_LINKS
from app.storage import schema
from app.storage.db import open_database
from app.storage.links import LinkStore
from tests.conftest import wait_until_taken
from tests.linkhelp import mailed_link, make_link, send_link_form, wait_for_state
from tests.test_link_admin import a_record, ask, log_in
from tests.test_link_check import answer


def a_marker() -> str:
    """A surname no file holds by chance."""
    return "".join(random.choices(string.ascii_lowercase, k=14)).capitalize()  # noqa: S311


async def stored_prefill(client, link_id: str):
    row = await client.app[BACKOFFICE].store.db.fetchone(
        "SELECT prefill FROM links WHERE id = ?", (link_id,)
    )
    return row["prefill"]


async def wait_until_no_file_holds(client, marker: str) -> None:
    """Wait until no file under data/backoffice holds the marker."""
    folder = client.app[CONFIG].backoffice_dir
    deadline = time.monotonic() + 10
    while holders := [
        p
        for p in folder.rglob("*")
        if p.is_file() and marker.encode() in p.read_bytes()
    ]:
        assert time.monotonic() < deadline, f"{holders} still hold the pre-fill"
        await asyncio.sleep(0.02)


async def a_contract(client, marker: str) -> str:
    values = {"KUNDE_NACHNAME": marker, "ABNST_PLZ": "01067"}
    link_id = await make_link(client, values, slug="stromvertrag")
    await mailed_link(client)
    assert marker in (await stored_prefill(client, link_id))
    return link_id


async def expire(client, link_id):
    await client.app[PORTAL_LINKS].expire(link_id)


async def revoke(client, link_id):
    await client.app[LINK_OFFICE].revoke(link_id)


async def lock(client, link_id):
    page = await client.get(await mailed_link(client))
    for _ in range(3):
        page = await answer(client, link_id, page, "99999")
    assert page.status == 410


@pytest.mark.parametrize(
    ("end", "state"), [(expire, "expired"), (revoke, "revoked"), (lock, "revoked")]
)
async def test_an_ended_link_keeps_no_pre_fill_and_cannot_be_resent(client, end, state):
    marker = a_marker()
    link_id = await a_contract(client, marker)
    await end(client, link_id)
    await wait_for_state(client, link_id, state)
    assert await stored_prefill(client, link_id) is None
    await wait_until_no_file_holds(client, marker)
    with pytest.raises(LinkError) as refused:
        await client.app[LINK_OFFICE].resend(link_id)
    assert str(refused.value) == PREFILL_GONE


async def test_a_returned_query_keeps_no_pre_fill(client):
    marker = a_marker()
    token = await log_in(client)
    record_id = await a_record(client)
    await ask(client, token, record_id, ["KUNDE_ORT"], message=f"Bitte {marker}")
    [link] = await client.app[LINK_OFFICE].store.links_of_record(record_id)
    assert marker in await stored_prefill(client, link.id)
    path = await mailed_link(client)
    assert (await send_link_form(client, path, {"KUNDE_ORT": "Leipzig"})).status == 200
    await wait_until_taken(client.app)
    await wait_for_state(client, link.id, "returned")
    assert await stored_prefill(client, link.id) is None
    await wait_until_no_file_holds(client, marker)


async def test_a_live_link_keeps_its_pre_fill_for_a_resend(client):
    marker = a_marker()
    link_id = await a_contract(client, marker)
    await client.app[LINK_OFFICE].resend(link_id)
    assert marker in await stored_prefill(client, link_id)


async def test_the_migration_keeps_links_their_history_and_record_ref(tmp_path):
    path = tmp_path / "backoffice.db"
    old = await open_database(path, schema.BACKOFFICE[:-1])
    async with old.transaction() as conn:
        await conn.execute(
            "INSERT INTO links VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ("a1", "musterstadt", "sepa-mandat", 1, "contract", None, "e@b.de")
            + ('{"record_ref": "MW-7"}', "sent", None, "test", "t0", "t9", "t1", None),
        )
        await conn.execute("INSERT INTO link_history VALUES ('a1', 'created', 't0')")
        await conn.execute("INSERT INTO link_history VALUES ('a1', 'sent', 't1')")
    await old.close()
    new = await open_database(path, schema.BACKOFFICE)
    store = LinkStore(new)
    link = await store.link("a1")
    history = [tuple(row) for row in await store.history("a1")]
    await new.close()
    assert (link.record_ref, link.prefill, link.state) == (
        "MW-7",
        {"record_ref": "MW-7"},
        "sent",
    )
    assert history == [("created", "t0", ""), ("sent", "t1", "")]


async def test_the_clerk_is_told_why_a_revoked_link_cannot_be_resent(client):
    token = await log_in(client)
    link_id = await a_contract(client, a_marker())
    await revoke(client, link_id)
    page = await (await client.get(f"/admin/links/{link_id}")).text()
    fields = {"csrf_token": token}
    refused = await client.post(f"/admin/links/{link_id}/resend", data=fields)
    assert "Erneut senden (neuer Link)" not in page
    assert PREFILL_GONE in page
    assert refused.status == 409
    assert PREFILL_GONE in await refused.text()
