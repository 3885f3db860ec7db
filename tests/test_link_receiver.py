"""A link's answer goes to the receiver it was made for; no answer blocks ingest."""

import html
import json

from app.application import create_app
from app.backoffice.ingest import UNFILED
from app.keys import BACKOFFICE, CONFIG, PORTAL
from app.storage.backoffice import NO_RECORD
from tests import api_support
from tests.admin_helpers import log_in_clerk, page_text
from tests.api_support import bearer, modwork_config, new_key
from tests.conftest import wait_until_taken
from tests.linkhelp import link_path, send_link_form, wait_for_mails
from tests.test_api import get_json, opened_values, records_soon, sent
from tests.test_api_links import QUERY
from tests.test_submission import GOOD_SEPA

modwork_key_path = api_support.modwork_key_path


async def asked(client, key) -> tuple[str, str]:
    """Make a query through the API; return its id and the mailed link's path."""
    response = await client.post("/api/v1/queries", json=QUERY, headers=bearer(key))
    assert response.status == 201, await response.text()
    [mail] = await wait_for_mails(client.app[CONFIG].outbox_dir, 1)
    return (await response.json())["id"], link_path(mail)


async def test_an_answer_goes_to_modwork_after_the_tenant_switched(
    aiohttp_client, config, data_dir, modwork_key_path
):
    on_modwork = modwork_config(data_dir, modwork_key_path)
    before = await aiohttp_client(create_app(on_modwork))
    key = await new_key(before)
    link_id, path = await asked(before, key)
    await before.close()

    after = await aiohttp_client(create_app(config))
    assert (await send_link_form(after, path, GOOD_SEPA)).status == 200
    status, listing = await get_json(after, "/api/v1/submissions", key)
    [summary] = listing["submissions"]
    _, envelope = await get_json(after, f"/api/v1/submissions/{summary['id']}", key)
    assert opened_values(envelope, modwork_key_path)["link_id"] == link_id
    _, link = await get_json(after, f"/api/v1/links/{link_id}", key)
    assert link["state"] == "returned"
    assert await after.app[BACKOFFICE].store.records(None) == []


async def test_an_answer_without_its_record_is_filed_and_the_next_is_taken(client):
    key = await new_key(client)
    link_id, path = await asked(client, key)
    assert (await send_link_form(client, path, GOOD_SEPA)).status == 200
    await sent(client)

    await wait_until_taken(client.app)
    rows = await client.app[BACKOFFICE].store.records(None)
    notes = {row["link_id"]: row["intake_note"] for row in rows}
    assert notes == {link_id: NO_RECORD, None: ""}
    [answer] = [row for row in rows if row["link_id"] == link_id]
    await log_in_clerk(client)
    page = await page_text(client, f"/admin/records/{answer['id']}")
    assert NO_RECORD in " ".join(html.unescape(page).split())


async def poison(client, condition: str) -> None:
    """Make the real records table refuse some inserts, as a damaged row would."""
    async with client.app[BACKOFFICE].store.db.transaction() as conn:
        await conn.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON records "
            f"WHEN {condition} BEGIN SELECT RAISE(ABORT, 'poison'); END"
        )


async def test_a_link_answer_that_cannot_be_filed_becomes_a_record_of_its_own(
    client,
):
    key = await new_key(client)
    await poison(client, "NEW.link_id IS NOT NULL")
    link_id, path = await asked(client, key)
    assert (await send_link_form(client, path, GOOD_SEPA)).status == 200

    await wait_until_taken(client.app)
    [row] = await client.app[BACKOFFICE].store.records(None)
    assert (row["link_id"], row["intake_note"]) == (None, UNFILED)


async def test_a_submission_that_cannot_be_filed_is_set_aside_not_blocking(
    client, caplog
):
    await poison(client, "NEW.field_values LIKE '%Vergiftet%'")
    poisoned = await sent(
        client, fields={**GOOD_SEPA, "BANK_KONTOINHABER": "Vergiftet"}
    )
    await sent(client)

    [row] = await records_soon(client.app)
    assert json.loads(row["field_values"])["BANK_KONTOINHABER"] == "Erika Mustermann"
    assert await client.app[PORTAL].store.submission_ids() == {poisoned}
    assert f"Cannot file submission {poisoned}; set aside" in caplog.text
