"""A meter exchange order goes to a provider and comes back with photos."""

import asyncio
import json
import re
import time as time_module
from datetime import datetime, time, timedelta

import pytest

from app.application import create_app
from app.backoffice.links import LinkError
from app.backoffice.orders import OrderRequest, create_order
from app.clock import BERLIN
from app.config import load_config
from app.forms.checks import today_in_germany
from app.keys import BACKOFFICE, CONFIG, LINK_OFFICE, SCHEDULER
from tests.admin_helpers import log_in_clerk, post
from tests.conftest import csrf_token, form_data, free_port, wait_until_taken
from tests.images import jpeg_photo, png_photo
from tests.linkhelp import link_path, send_link_form, wait_for_mails, wait_for_state
from tests.smtp import SmtpServer

# The window lies ahead whatever day the tests run on.
EARLIEST = today_in_germany() + timedelta(days=3)
LATEST = today_in_germany() + timedelta(days=14)
ORDER = {
    "KUNDE_NACHNAME": "Mustermann",
    "ABNST_STRASSE": "Hauptstraße",
    "ABNST_HAUSNR": "5a",
    "ABNST_PLZ": "01067",
    "ABNST_ORT": "Dresden",
    "ZAEHLER_NR": "1ESY1160523456",
    "AUFTRAG_TERMIN_VON": EARLIEST.isoformat(),
    "AUFTRAG_TERMIN_BIS": LATEST.isoformat(),
}
RESULT = {
    "WECHSEL_DATUM": (today_in_germany() - timedelta(days=3)).isoformat(),
    "ZAEHLER_STAND_ALT": "012345,6",
    "ZAEHLER_NR_NEU": "1EBZ0100000001",
    "ZAEHLER_STAND_NEU": "000000,1",
}


async def order(client, values=None, provider=0) -> str:
    wanted = OrderRequest("musterstadt", "zaehlerwechsel", provider, values or ORDER)
    return await create_order(client.app[LINK_OFFICE], wanted, "test")


async def provider_link(client) -> str:
    [mail] = await wait_for_mails(client.app[CONFIG].outbox_dir, 1)
    assert mail["To"] == "auftraege@messtechnik-muster.example"
    return link_path(mail)


async def test_the_order_opens_a_waiting_record_of_its_own_type(client):
    link_id = await order(client)
    [record] = await client.app[BACKOFFICE].store.records(None)
    link = await client.app[LINK_OFFICE].store.link(link_id)
    assert (record["record_type"], record["status"]) == ("ZAEHLERWECHSEL", "waiting")
    assert link.record_id == record["id"]
    assert json.loads(record["field_values"]) == ORDER


async def test_the_provider_reads_the_order_and_fills_only_the_result(client):
    await order(client)
    html = await (await client.get(await provider_link(client))).text()
    assert "<dt>Nummer des alten Zählers</dt>" in html
    assert "<dd>1ESY1160523456</dd>" in html
    assert 'name="ZAEHLER_NR"' not in html
    assert 'name="ZAEHLER_NR_NEU"' in html
    assert f"bis spätestens {LATEST:%d.%m.%Y}" in html
    assert f"<dd>{EARLIEST:%d.%m.%Y}</dd>" in html


async def test_the_result_lands_on_the_order_with_its_photos(client):
    link_id = await order(client)
    photos = {
        "WECHSEL_FOTO_ALT": ("alt.jpg", jpeg_photo()),
        "WECHSEL_FOTO_NEU": ("neu.png", png_photo()),
    }
    sent = await send_link_form(client, await provider_link(client), RESULT, photos)
    assert sent.status == 200, await sent.text()
    await wait_until_taken(client.app)
    store = client.app[BACKOFFICE].store
    [record] = await store.records(None)
    values = json.loads(record["field_values"])
    assert (values["ZAEHLER_NR"], values["ZAEHLER_NR_NEU"]) == (
        "1ESY1160523456",
        "1EBZ0100000001",
    )
    attachments = await store.attachments(record["id"])
    assert sorted(a["field"] for a in attachments) == [
        "WECHSEL_FOTO_ALT",
        "WECHSEL_FOTO_NEU",
    ]
    await wait_for_state(client, link_id, "returned")


async def test_an_order_past_its_window_is_overdue(client):
    link_id = await order(client)
    due = client.app[SCHEDULER].due_at(f"link-overdue:{link_id}")
    day_after = LATEST + timedelta(days=1)
    assert due == datetime.combine(day_after, time(), tzinfo=BERLIN)
    await client.app[LINK_OFFICE].mark_overdue(link_id)
    assert (await client.app[LINK_OFFICE].store.link(link_id)).state == "overdue"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ZAEHLER_NR": ""}, "Füllen Sie das Feld „Nummer des alten Zählers“ aus."),
        (
            {"AUFTRAG_TERMIN_BIS": (EARLIEST - timedelta(days=1)).isoformat()},
            "AUFTRAG_TERMIN_VON: „Termin frühestens am“ liegt nach „Termin "
            "spätestens am“.",
        ),
        (
            {
                "AUFTRAG_TERMIN_VON": (
                    today_in_germany() - timedelta(days=9)
                ).isoformat(),
                "AUFTRAG_TERMIN_BIS": (
                    today_in_germany() - timedelta(days=1)
                ).isoformat(),
            },
            "AUFTRAG_TERMIN_BIS: „Termin spätestens am“ liegt in der Vergangenheit.",
        ),
        ({"ABNST_PLZ": "1067"}, "ABNST_PLZ: "),
    ],
)
async def test_an_order_without_its_data_is_refused(client, change, message):
    with pytest.raises(LinkError, match=re.escape(message)):
        await order(client, {**ORDER, **change})
    assert await client.app[BACKOFFICE].store.records(None) == []


async def test_an_order_needs_one_of_the_tenants_providers(client):
    with pytest.raises(LinkError, match="Wählen Sie einen Dienstleister aus."):
        await order(client, provider=7)


async def test_order_forms_stay_off_the_public_pages(client):
    index = await (await client.get("/musterstadt/")).text()
    assert "Zählerwechsel" not in index
    assert (await client.get("/musterstadt/zaehlerwechsel")).status == 404


def words(html: str) -> str:
    """Return a page's or mail's text without tags and runs of white space."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


async def test_every_page_and_mail_of_an_order_speaks_of_the_order(client):
    await order(client)
    [mail] = await wait_for_mails(client.app[CONFIG].outbox_dir, 1)
    path = link_path(mail)
    page = await client.get(path)
    action = page.url.path
    token = csrf_token(await page.text())
    refused = await client.post(action, data=form_data(token, {}))
    photos = {
        "WECHSEL_FOTO_ALT": ("alt.jpg", jpeg_photo()),
        "WECHSEL_FOTO_NEU": ("neu.png", png_photo()),
    }
    sent = await send_link_form(client, path, RESULT, photos)
    used = await client.get(path)
    await wait_until_taken(client.app)
    [record] = await client.app[BACKOFFICE].store.records(None)
    admin = await log_in_clerk(client)
    record_page = await client.get(f"/admin/records/{record['id']}")
    query = await post(client, f"/admin/records/{record['id']}/query", admin)
    texts = [
        mail["Subject"],
        mail.get_body(("plain",)).get_content(),
        mail.get_body(("html",)).get_content(),
        *[await r.text() for r in (page, refused, sent, used, record_page)],
    ]
    assert [r.status for r in (page, refused, sent, used, query)] == [
        200,
        422,
        200,
        410,
        404,
    ]
    assert [("Auftrag" in t, "Rückfrage" in t) for t in texts] == [(True, False)] * len(
        texts
    )
    assert "Das Ergebnis des Auftrags ist bei uns eingegangen." in words(texts[5])
    assert "Auftrag bereits erledigt" in words(texts[6])
    assert re.search(r"Ergebnis [A-Z]{2}-[0-9A-Z]{4}-[0-9A-Z]{4} vom", words(texts[7]))
    assert "Korrektur" not in texts[7]


async def first_try_failed(office, mail_id: str) -> None:
    """Wait until the outbox has tried a mail once and put it back."""
    deadline = time_module.monotonic() + 10
    while (await office.outbox.store.mail(mail_id)).attempts == 0:
        assert time_module.monotonic() < deadline, "the mail was never tried"
        await asyncio.sleep(0.02)


async def test_a_mail_sent_after_the_order_fell_overdue_shows_in_its_history(
    aiohttp_client, data_dir
):
    port = free_port()
    mail = {"host": "127.0.0.1", "port": port, "security": "none"}
    client = await aiohttp_client(
        create_app(load_config(None, data=str(data_dir), mail=mail))
    )
    office = client.app[LINK_OFFICE]
    link_id = await order(client)
    [queued] = await office.outbox.store.waiting()
    await first_try_failed(office, queued.id)
    await office.mark_overdue(link_id)
    relay = SmtpServer(port).start()
    try:
        await office.outbox.deliver(queued.id)
    finally:
        relay.stop()
    history = [row["state"] for row in await office.store.history(link_id)]
    assert history == ["created", "overdue", "sent"]
    assert (await office.store.link(link_id)).state == "overdue"
    assert len(relay.recorder.messages()) == 1


async def test_the_order_page_names_the_field_of_a_past_window(client):
    token = await log_in_clerk(client)
    past = {
        "AUFTRAG_TERMIN_VON": (today_in_germany() - timedelta(days=9)).isoformat(),
        "AUFTRAG_TERMIN_BIS": (today_in_germany() - timedelta(days=2)).isoformat(),
    }
    fields = {"form": "musterstadt/zaehlerwechsel", "provider": "0", **ORDER, **past}
    response = await post(client, "/admin/orders/new", token, fields)
    assert response.status == 422
    assert "AUFTRAG_TERMIN_BIS: „Termin spätestens am“ liegt in der Vergangenheit." in (
        await response.text()
    )
    assert await client.app[BACKOFFICE].store.records(None) == []
