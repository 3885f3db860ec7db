"""A secure link opens its pre-filled form once; tokens and values stay sealed."""

import asyncio
import json
import logging
from datetime import datetime

import pytest

from app import crypto
from app.application import create_app
from app.backoffice.links import LinkError, LinkRequest
from app.config import load_config
from app.keys import (
    BACKOFFICE,
    CONFIG,
    LINK_OFFICE,
    OUTBOX,
    PORTAL,
    PORTAL_LINKS,
    SCHEDULER,
)
from tests.conftest import csrf_token, form_data, free_port, wait_until_taken
from tests.linkhelp import (
    LINK,
    link_path,
    mailed_link,
    make_link,
    send_link_form,
    wait_for_mails,
    wait_for_state,
)
from tests.smtp import SmtpServer
from tests.test_submission import GOOD_SEPA


async def test_link_opens_its_pre_filled_form(client):
    await make_link(client)
    response = await client.get(await mailed_link(client))
    html = await response.text()
    assert response.status == 200
    assert 'name="BANK_KONTOINHABER" type="text" value="Erika Mustermann"' in html
    assert 'name="KUNDE_ORT" type="text" value="Dresden"' in html


async def test_opening_moves_the_token_into_a_lax_cookie_and_out_of_the_address(
    client,
):
    link_id = await make_link(client)
    response = await client.get(await mailed_link(client), allow_redirects=False)
    cookie = response.cookies["mp_link"]
    assert response.status == 303
    assert response.headers["Location"] == f"/l/{link_id}/formular"
    assert (cookie["samesite"], cookie["path"], cookie["httponly"]) == (
        "Lax",
        f"/l/{link_id}/",
        True,
    )
    assert cookie["max-age"] == "3600"


@pytest.mark.parametrize("page", ["open", "form"])
async def test_link_pages_send_no_referrer(client, page):
    link_id = await make_link(client)
    response = await client.get(await mailed_link(client), allow_redirects=False)
    if page == "form":
        response = await client.get(f"/l/{link_id}/formular")
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_a_link_is_sent_once_and_says_when_the_second_time(client):
    link_id = await make_link(client)
    path = await mailed_link(client)
    sent = await send_link_form(client, path, GOOD_SEPA)
    assert sent.status == 200
    again = await client.get(path)
    html = await again.text()
    assert again.status == 410
    assert "Formular bereits gesendet" in html
    link = await client.app[PORTAL_LINKS].store.link(link_id)
    assert link.receipt in html


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: ("0" if t[0] != "0" else "1") + t[1:],
        lambda t: t[:-2],
        lambda t: t.split(".")[0],
        lambda t: "nonsense",
    ],
)
async def test_a_tampered_token_gets_the_plain_not_found_page(client, tamper):
    await make_link(client)
    path = await mailed_link(client)
    token = path.removeprefix("/l/")
    response = await client.get(f"/l/{tamper(token)}")
    assert response.status == 404
    assert "Seite nicht gefunden" in await response.text()


async def test_the_returned_form_becomes_a_record_that_names_its_link(client):
    link_id = await make_link(client)
    await send_link_form(client, await mailed_link(client), GOOD_SEPA)
    await wait_until_taken(client.app)
    [record] = await client.app[BACKOFFICE].store.records(None)
    assert record["link_id"] == link_id
    assert json.loads(record["field_values"])["KUNDE_ORT"] == "Dresden"
    await wait_for_state(client, link_id, "returned")


async def test_states_go_from_created_to_sent_to_opened(client):
    link_id = await make_link(client)
    path = await mailed_link(client)
    await wait_for_state(client, link_id, "sent")
    await client.get(path)
    await wait_for_state(client, link_id, "opened")
    history = await client.app[LINK_OFFICE].store.history(link_id)
    assert [row["state"] for row in history] == ["created", "sent", "opened"]


async def test_two_sends_at_once_on_one_link_are_taken_once(client):
    await make_link(client)
    path = await mailed_link(client)
    first, second = await client.get(path), await client.get(path)
    tokens = [csrf_token(await page.text()) for page in (first, second)]
    action = first.url.path
    answers = await asyncio.gather(
        *(client.post(action, data=form_data(t, GOOD_SEPA)) for t in tokens)
    )
    assert sorted(a.status for a in answers) == [200, 410]
    await wait_until_taken(client.app)
    assert len(await client.app[BACKOFFICE].store.records(None)) == 1


async def test_expiry_deletes_the_sealed_prefill_and_the_page_says_whom_to_ask(
    client,
):
    link_id = await make_link(client)
    path = await mailed_link(client)
    await client.app[PORTAL_LINKS].expire(link_id)
    response = await client.get(path)
    html = await response.text()
    assert response.status == 410
    assert "Link abgelaufen" in html
    assert "service@stadtwerke-musterstadt.example" in html
    assert (await client.app[PORTAL_LINKS].store.link(link_id)).sealed_prefill is None
    await wait_for_state(client, link_id, "expired")


async def test_expiry_runs_on_the_timers_at_the_links_end(client):
    link_id = await make_link(client)
    link = await client.app[LINK_OFFICE].store.link(link_id)
    due = client.app[SCHEDULER].due_at(f"link-expiry:{link_id}")
    assert due == datetime.fromisoformat(link.expires_at)
    assert (due - datetime.fromisoformat(link.created_at)).days == 14


async def test_a_revoked_link_no_longer_opens(client):
    link_id = await make_link(client)
    path = await mailed_link(client)
    await client.app[LINK_OFFICE].revoke(link_id)
    response = await client.get(path)
    assert response.status == 410
    assert "Dieser Link gilt nicht mehr." in await response.text()
    assert (await client.app[LINK_OFFICE].store.link(link_id)).state == "revoked"


async def test_sending_again_gives_a_new_token_and_stops_the_old_one(client):
    link_id = await make_link(client)
    old = await mailed_link(client)
    await client.app[LINK_OFFICE].resend(link_id)
    new = await mailed_link(client, count=2)
    assert new != old
    assert (await client.get(old)).status == 404
    assert (await client.get(new)).status == 200


async def test_a_cookie_of_another_link_opens_nothing(client):
    await make_link(client)
    await client.get(await mailed_link(client))
    other = await make_link(client)
    response = await client.get(f"/l/{other}/formular")
    assert response.status == 403
    assert "Bitte öffnen Sie den Link aus Ihrer E-Mail erneut." in await response.text()


async def test_neither_token_nor_values_lie_in_plaintext_under_portal(client):
    await make_link(client, {"BANK_KONTOINHABER": "Zacharias Quellwasser"})
    path = await mailed_link(client)
    await client.get(path)
    secret = path.split(".")[1].encode()
    for file in client.app[CONFIG].portal_dir.rglob("*"):
        if file.is_file():
            content = file.read_bytes()
            assert secret not in content, file
            assert b"Quellwasser" not in content, file


@pytest.fixture
def smtp_down(data_dir):
    mail = {"host": "127.0.0.1", "port": free_port(), "security": "none"}
    return load_config(None, data=str(data_dir), mail=mail)


async def test_a_queued_mail_holds_its_token_only_sealed(aiohttp_client, smtp_down):
    client = await aiohttp_client(create_app(smtp_down))
    await make_link(client)
    outbox = client.app[OUTBOX]
    [mail] = await outbox.store.waiting()
    raw = crypto.decrypt_stored(outbox.key, "mail", mail.id, mail.sealed_mail)
    token = LINK.search(raw.decode()).group(1).split(".")[1]
    assert token.encode() not in mail.sealed_mail
    assert b"erika@beispiel.de" not in mail.sealed_mail


@pytest.fixture
def slow_guesses(data_dir):
    return load_config(None, data=str(data_dir), throttle={"link_opens_per_minute": 3})


async def test_guessing_tokens_is_throttled_per_client_address(
    aiohttp_client, slow_guesses
):
    client = await aiohttp_client(create_app(slow_guesses))
    statuses = [
        (await client.get(f"/l/{'0' * 16}.{str(n) * 43}")).status for n in range(4)
    ]
    assert statuses == [404, 404, 404, 429]


@pytest.fixture
def public(data_dir):
    return load_config(
        None, data=str(data_dir), public_url="https://portal.stadtwerke.example"
    )


async def test_links_are_built_from_the_public_url_not_the_host_header(
    aiohttp_client, public
):
    client = await aiohttp_client(create_app(public))
    await make_link(client)
    mails = await wait_for_mails(public.outbox_dir, 1)
    text = mails[0].get_body(("plain",)).get_content()
    assert "https://portal.stadtwerke.example/l/" in text


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"KUNDE_TELEFON": "0351 1234"}, "KUNDE_TELEFON: Das Formular hat kein"),
        ({"SEPA_ZUSTIMMUNG": "ja"}, "Eine Zustimmung gibt der Kunde selbst"),
        ({"KUNDE_PLZ": "1067"}, "KUNDE_PLZ: "),
    ],
)
async def test_pre_fills_a_form_cannot_take_are_refused(client, values, message):
    with pytest.raises(LinkError, match=message):
        await make_link(client, values)
    assert await client.app[LINK_OFFICE].store.links(None) == []


async def test_a_bad_address_is_refused_before_anything_is_stored(client):
    wanted = LinkRequest(
        "musterstadt", "sepa-mandat", "erika@beispiel.de\r\nBcc: x@y.de", {}
    )
    with pytest.raises(LinkError, match="E-Mail-Adresse ist ungültig"):
        await client.app[LINK_OFFICE].create(wanted, "test")
    assert await client.app[PORTAL].store.submission_ids() == set()


@pytest.mark.parametrize(
    ("slug", "values", "days"),
    [("sepa-mandat", {}, 14), ("stromvertrag", {"ABNST_PLZ": "01067"}, 21)],
)
async def test_a_link_lasts_as_long_as_its_form_says(client, slug, values, days):
    # The contract asks for the postal code before it opens, so it needs one.
    link_id = await make_link(client, values, slug=slug)
    link = await client.app[LINK_OFFICE].store.link(link_id)
    lifetime = datetime.fromisoformat(link.expires_at) - datetime.fromisoformat(
        link.created_at
    )
    assert lifetime.days == days


async def test_no_token_reaches_our_logs_or_the_back_offices_store(client, caplog):
    # The test server's own access log is aiohttp's; `serve` logs routes only,
    # which tests/test_send_link.py checks on a real server's output.
    caplog.set_level(logging.DEBUG, logger="app")
    link_id = await make_link(client)
    path = await mailed_link(client)
    await send_link_form(client, path, GOOD_SEPA)
    await client.get(path)
    await wait_for_state(client, link_id, "returned")
    secret = path.split(".")[1]
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("app")]
    assert ours
    assert all(secret not in message for message in ours)
    for file in client.app[CONFIG].backoffice_dir.rglob("*"):
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), file


@pytest.fixture
def smtp():
    running = SmtpServer(free_port()).start()
    yield running
    running.stop()


async def test_a_mail_through_smtp_carries_a_link_that_opens_once(
    aiohttp_client, data_dir, smtp
):
    mail = {"host": "127.0.0.1", "port": smtp.port, "security": "none"}
    client = await aiohttp_client(
        create_app(load_config(None, data=str(data_dir), mail=mail))
    )
    link_id = await make_link(client)
    await wait_for_state(client, link_id, "sent")
    [message] = smtp.recorder.messages()
    path = link_path(message)
    assert (await send_link_form(client, path, GOOD_SEPA)).status == 200
    assert (await client.get(path)).status == 410


async def test_a_used_link_cannot_be_brought_back_by_sending_it_again(client):
    link_id = await make_link(client)
    path = await mailed_link(client)
    assert (await send_link_form(client, path, GOOD_SEPA)).status == 200
    with pytest.raises(LinkError, match="nicht erneut|bereits genutzt"):
        await client.app[LINK_OFFICE].resend(link_id)
    assert (await client.get(path)).status == 410


async def test_a_used_link_stays_used_in_the_portal_whatever_is_published(client):
    from app.storage.portal_links import LinkUsed, PortalLink

    link_id = await make_link(client)
    path = await mailed_link(client)
    await send_link_form(client, path, GOOD_SEPA)
    again = PortalLink(
        link_id,
        "musterstadt",
        "sepa-mandat",
        1,
        "0" * 64,
        None,
        "2199-01-01T00:00:00+00:00",
    )
    with pytest.raises(LinkUsed):
        await client.app[PORTAL_LINKS].store.publish(again)
