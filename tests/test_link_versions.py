"""A link serves the version customers may see now; a query, its record's own."""

import asyncio
import json
import sys
from dataclasses import replace

import pytest

from app.backoffice.forms import FORMS
from app.backoffice.links import FormNotLive
from app.backoffice.orders import OrderRequest, create_order
from app.config import ROOT
from app.keys import BACKOFFICE, CONFIG, LINK_OFFICE
from tests import api_support
from tests.api_support import bearer, new_key
from tests.linkhelp import mailed_link, make_link, outbox_files
from tests.test_api_links import LINK, ORDER_BODY, QUERY
from tests.test_link_admin import a_record, ask, log_in, new_link
from tests.test_orders import ORDER

api = api_support.api
modwork_key_path = api_support.modwork_key_path

DRAFT_TITLE = "Entwurf in Arbeit"
NOT_LIVE = "musterstadt/sepa-mandat ist zurzeit nicht veröffentlicht"


async def save_draft(app, slug="sepa-mandat") -> tuple[int, int]:
    """Save a changed copy of the live version; return live and draft numbers."""
    desk = app[FORMS]
    row = await desk.form("musterstadt", slug)
    live = await desk.version(row, row.last_version)
    draft = await desk.save(row, replace(live, title=DRAFT_TITLE), "test")
    return row.last_version, draft


async def end_form(app, slug="sepa-mandat") -> None:
    desk = app[FORMS]
    await desk.end(await desk.form("musterstadt", slug), None, "test")


async def nothing_stored(app) -> bool:
    links = await app[LINK_OFFICE].store.links(["musterstadt"])
    return not links and not outbox_files(app[CONFIG].outbox_dir)


async def test_a_draft_saved_after_the_live_version_is_not_what_a_link_serves(client):
    live, draft = await save_draft(client.app)
    link_id = await make_link(client)
    assert (live, draft) == (1, 2)
    assert (await client.app[LINK_OFFICE].store.link(link_id)).form_version == 1
    html = await (await client.get(await mailed_link(client))).text()
    assert DRAFT_TITLE not in html
    assert "SEPA-Lastschriftmandat" in html


async def test_an_ended_form_sends_no_link_and_stores_nothing(client):
    await end_form(client.app)
    with pytest.raises(FormNotLive, match=NOT_LIVE):
        await make_link(client)
    assert await nothing_stored(client.app)


async def test_a_form_that_was_never_published_sends_no_link(client):
    await client.app[FORMS].create("musterstadt", "neu", "Neu", "SEPA_MANDAT", "t")
    with pytest.raises(FormNotLive, match="musterstadt/neu ist zurzeit nicht"):
        await make_link(client, values={}, slug="neu")


async def test_the_admin_page_offers_the_live_version_and_refuses_an_ended_form(
    client,
):
    token = await log_in(client)
    await save_draft(client.app)
    page = await client.get("/admin/links/new?form=musterstadt/sepa-mandat")
    assert DRAFT_TITLE not in await page.text()
    await end_form(client.app)
    response = await new_link(client, token, KUNDE_ORT="Dresden")
    assert response.status == 422
    assert NOT_LIVE in await response.text()
    assert await nothing_stored(client.app)


async def test_a_query_stays_on_the_version_its_record_was_filled_on(client):
    token = await log_in(client)
    record_id = await a_record(client)
    row = await client.app[FORMS].form("musterstadt", "sepa-mandat")
    _live, draft = await save_draft(client.app)
    await client.app[FORMS].publish(row, draft, None, None, "test")
    response = await ask(client, token, record_id, ["KUNDE_ORT"])
    assert response.status == 200
    [link] = await client.app[LINK_OFFICE].store.links(["musterstadt"])
    assert (link.kind, link.form_version) == ("query", 1)


async def test_a_query_goes_out_even_when_the_form_has_ended_since(client):
    token = await log_in(client)
    record_id = await a_record(client)
    await end_form(client.app)
    response = await ask(client, token, record_id, ["KUNDE_ORT"])
    assert response.status == 200
    record = await client.app[BACKOFFICE].store.record(record_id)
    assert record["status"] == "waiting"


async def test_an_order_serves_the_live_version_and_refuses_an_ended_form(client):
    await save_draft(client.app, "zaehlerwechsel")
    wanted = OrderRequest("musterstadt", "zaehlerwechsel", 0, ORDER)
    link_id = await create_order(client.app[LINK_OFFICE], wanted, "test")
    assert (await client.app[LINK_OFFICE].store.link(link_id)).form_version == 1
    await end_form(client.app, "zaehlerwechsel")
    with pytest.raises(FormNotLive, match="zaehlerwechsel ist zurzeit nicht"):
        await create_order(client.app[LINK_OFFICE], wanted, "test")
    records = await client.app[BACKOFFICE].store.records(None)
    assert len(records) == 1


@pytest.mark.parametrize(
    ("path", "body", "slug"),
    [
        ("/api/v1/links", LINK, "sepa-mandat"),
        ("/api/v1/queries", QUERY, "sepa-mandat"),
        ("/api/v1/orders", ORDER_BODY, "zaehlerwechsel"),
    ],
)
async def test_the_api_refuses_a_form_with_no_live_version(api, path, body, slug):
    key = await new_key(api)
    await end_form(api.app, slug)
    response = await api.post(path, json=body, headers=bearer(key))
    assert response.status == 422
    [error] = (await response.json())["errors"]
    assert error["field"] == "form"
    assert f"musterstadt/{slug} ist zurzeit nicht veröffentlicht" in error["message"]
    assert await nothing_stored(api.app)


async def test_the_api_link_serves_the_live_version_not_a_newer_draft(api):
    key = await new_key(api)
    await save_draft(api.app)
    response = await api.post("/api/v1/links", json=LINK, headers=bearer(key))
    assert response.status == 201
    assert (await response.json())["form"] == {"slug": "sepa-mandat", "version": 1}


async def send_link_command(data, values_file, slug="sepa-mandat") -> tuple[int, str]:
    """Run `run.py send-link` against the running app, through its socket."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "run.py",
        "send-link",
        "musterstadt",
        slug,
        "--to",
        "erika@beispiel.de",
        "--values",
        str(values_file),
        "--data",
        str(data),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await process.communicate()
    return process.returncode, err.decode()


async def test_send_link_refuses_a_form_with_no_live_version(client, tmp_path):
    values = tmp_path / "werte.yaml"
    values.write_text(json.dumps({"KUNDE_ORT": "Dresden"}), encoding="utf-8")
    await end_form(client.app)
    returncode, stderr = await send_link_command(client.app[CONFIG].data, values)
    assert returncode == 1
    assert NOT_LIVE in stderr
    assert await nothing_stored(client.app)
