"""Forms served only through secure links: unlisted, no public address, and
still opened by their links; the setting in files, the editor and orders."""

import pytest

from app.backoffice.forms import FORMS
from app.backoffice.orders import ORDER_TYPES
from app.commands import export_text, publish_definition
from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.definition import (
    ORDER_RECORD_TYPES,
    DefinitionError,
    FormDefinition,
    parse_definition,
)
from app.keys import BACKOFFICE, PORTAL, TENANTS
from tests.admin_helpers import ADMIN, log_in_clerk, page_text, post
from tests.conftest import wait_until_taken
from tests.linkhelp import mailed_link, make_link, send_link_form
from tests.test_form_pages import EDIT, NEW, editor_page

UMZUG = """\
tenant: musterstadt
slug: umzug
title: Umzug melden
record_type: ZAEHLERSTAND
links_only: "{links_only}"
sections:
  - title: Zähler
    fields:
      - field: ZAEHLER_NR
        required: "true"
"""
METER_NUMBER = {"ZAEHLER_NR": "1ESY1160523456"}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_PATH)


async def import_umzug(client, links_only: str = "true") -> None:
    app = client.app
    text = UMZUG.format(links_only=links_only)
    await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], text, "t")


async def test_a_links_only_form_is_not_listed_on_the_start_page(client):
    await import_umzug(client)
    index = await page_text(client, "/musterstadt/")
    assert "Umzug melden" not in index
    assert "Zählerstand melden" in index


async def test_a_links_only_forms_address_answers_as_if_there_were_no_form(client):
    await import_umzug(client)
    hidden = await client.get("/musterstadt/umzug")
    unknown = await client.get("/musterstadt/gibt-es-nicht")
    assert (hidden.status, await hidden.text()) == (404, await unknown.text())


async def test_the_same_form_public_is_listed_and_served(client):
    await import_umzug(client, links_only="false")
    assert "Umzug melden" in await page_text(client, "/musterstadt/")
    assert (await client.get("/musterstadt/umzug")).status == 200


async def test_a_link_still_opens_and_sends_a_links_only_form(client):
    await import_umzug(client)
    await make_link(client, METER_NUMBER, slug="umzug")
    sent = await send_link_form(client, await mailed_link(client), METER_NUMBER)
    assert sent.status == 200
    await wait_until_taken(client.app)
    [record] = await client.app[BACKOFFICE].store.records(None)
    assert (record["form_slug"], record["record_type"]) == ("umzug", "ZAEHLERSTAND")


async def test_the_setting_survives_export_and_import(client, catalog):
    await import_umzug(client)
    exported = await export_text(client.app[FORMS], "musterstadt", "umzug")
    assert "links_only: 'true'\n" in exported["text"]
    assert parse_definition(exported["text"], catalog).links_only is True


async def test_the_editor_sets_and_clears_the_setting_and_the_form_page_says_so(
    client,
):
    token = await log_in_clerk(client)
    await post(client, "/admin/forms/new", token, NEW)
    ticked = await post(client, EDIT, token, await editor_page(client, links_only="ja"))
    assert ticked.status == 303
    only = "<dd>nur über sichere Links</dd>"
    assert only in await page_text(client, f"{ADMIN}/umzug")
    exported = await export_text(client.app[FORMS], "musterstadt", "umzug")
    assert "links_only: 'true'\n" in exported["text"]
    page = await editor_page(client)
    assert "links_only" not in page
    assert (await post(client, EDIT, token, page)).status == 303
    assert only not in await page_text(client, f"{ADMIN}/umzug")
    exported = await export_text(client.app[FORMS], "musterstadt", "umzug")
    assert "links_only" not in exported["text"]


async def test_the_editor_shows_an_order_links_only_and_fixed(client):
    await log_in_clerk(client)
    html = await page_text(client, f"{ADMIN}/zaehlerwechsel/edit")
    assert 'name="links_only" value="ja" checked disabled' in html
    assert "Aufträge an Dienstleister sind immer" in html


async def test_the_demo_order_is_online_and_still_off_the_public_pages(client):
    await log_in_clerk(client)
    page = await page_text(client, f"{ADMIN}/zaehlerwechsel")
    assert "Online</span>" in page
    assert "<dd>nur über sichere Links</dd>" in page
    assert (await client.get("/musterstadt/zaehlerwechsel")).status == 404


def test_an_order_cannot_be_made_public_by_its_file(catalog):
    text = UMZUG.format(links_only="false").replace("ZAEHLERSTAND", "ZAEHLERWECHSEL")
    with pytest.raises(DefinitionError) as refused:
        parse_definition(text, catalog)
    assert str(refused.value) == (
        "line 5: links_only cannot be false: record type ZAEHLERWECHSEL is an "
        "order, served through links only"
    )


def test_an_order_is_links_only_without_saying_so(catalog):
    text = UMZUG.replace('links_only: "{links_only}"\n', "").replace(
        "ZAEHLERSTAND", "ZAEHLERWECHSEL"
    )
    form = parse_definition(text, catalog)
    assert form.links_only is True
    stored = {**form.to_dict(), "links_only": False}
    assert FormDefinition.from_dict(stored, catalog).links_only is True


def test_a_version_stored_before_the_setting_is_public(catalog):
    form = parse_definition(UMZUG.format(links_only="false"), catalog)
    stored = form.to_dict()
    del stored["links_only"]
    assert FormDefinition.from_dict(stored, catalog) == form


def test_every_order_type_is_a_links_only_record_type():
    assert set(ORDER_TYPES) == ORDER_RECORD_TYPES
