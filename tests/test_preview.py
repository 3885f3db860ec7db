"""A draft's preview in the tenant frame, for clerks only, and test sends."""

import pytest

from app.keys import BACKOFFICE
from tests.admin_helpers import ADMIN, log_in_clerk, page_text, post
from tests.conftest import form_data, wait_until_taken
from tests.test_form_pages import NEW, editor_page

UMZUG = f"{ADMIN}/umzug"


@pytest.fixture
async def token(client) -> str:
    token = await log_in_clerk(client)
    await post(client, "/admin/forms/new", token, NEW)
    page = await editor_page(client, action="add:0", **{"add-0": "ZAEHLER_NR"})
    await post(client, f"{UMZUG}/edit", token, page)
    page = await editor_page(client, **{"ZAEHLER_NR-required": "ja"})
    await post(client, f"{UMZUG}/edit", token, page)
    return token


async def send_test(client, token: str, number: str):
    data = form_data(token, {"ZAEHLER_NR": number})
    return await client.post(f"{UMZUG}/preview/3", data=data)


async def test_a_draft_shows_in_the_tenant_frame_for_clerks_only(client, token):
    page = await page_text(client, f"{UMZUG}/preview")
    assert '<span class="header__name">Stadtwerke Musterstadt</span>' in page
    assert "Vorschau von Version 3 für Sachbearbeiter." in page
    assert f'action="{UMZUG}/preview/3"' in page
    assert (await client.get("/musterstadt/umzug")).status == 404
    client.session.cookie_jar.clear()
    response = await client.get(f"{UMZUG}/preview", allow_redirects=False)
    assert response.headers["Location"] == "/admin/login"


async def test_a_test_send_becomes_a_record_marked_as_a_test(client, token):
    response = await send_test(client, token, "1ESY1160523456")
    assert response.status == 200
    assert "Das war eine Testsendung." in await response.text()
    await wait_until_taken(client.app)
    [record] = await client.app[BACKOFFICE].store.records(None, tests=True)
    assert (record["test"], record["form_slug"], record["form_version"]) == (
        1,
        "umzug",
        3,
    )
    page = await page_text(client, f"/admin/records/{record['id']}")
    assert '<span class="test-mark">Testsendung</span>' in page


async def test_test_records_are_hidden_from_the_list_unless_asked_for(client, token):
    await send_test(client, token, "1ESY1160523456")
    await wait_until_taken(client.app)
    hidden = await page_text(client, "/admin/records")
    shown = await page_text(client, "/admin/records?tests=1")
    assert "Es sind noch keine Belege eingegangen." in hidden
    assert '<span class="test-mark">Test</span>' in shown


async def test_a_refused_test_send_shows_the_preview_again(client, token):
    response = await send_test(client, token, "")
    assert response.status == 422
    text = await response.text()
    assert "Vorschau von Version 3 für Sachbearbeiter." in text
    assert "Geben Sie die Zählernummer an." in text


async def test_a_test_send_needs_the_sessions_token(client, token):
    response = await send_test(client, "falsch", "1ESY1160523456")
    assert response.status == 403
    assert await client.app[BACKOFFICE].store.records(None, tests=True) == []
