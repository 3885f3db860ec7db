"""Clerks send pre-filled forms and queries from the admin pages."""

import json
import re
from datetime import datetime, timedelta

import pytest

from app.application import create_app
from app.backoffice.auth import hash_password
from app.config import load_config
from app.keys import BACKOFFICE, CONFIG, LINK_OFFICE, SCHEDULER
from tests.conftest import (
    ADMIN_PASSWORD,
    add_clerk,
    csrf_token,
    free_port,
    send,
    wait_until_taken,
)
from tests.conftest import log_in as conftest_log_in
from tests.linkhelp import (
    link_path,
    mailed_link,
    make_link,
    send_link_form,
    wait_for_mails,
    wait_for_state,
)
from tests.smtp import SmtpServer
from tests.test_admin import listed
from tests.test_orders import ORDER
from tests.test_submission import GOOD_SEPA, SEPA

PASSWORD = "ein langes Passwort"
RECEIPT = re.compile(r"[A-Z]{2}-[0-9A-Z]{4}-[0-9A-Z]{4}")
ADMIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def log_in(client) -> str:
    """Create a clerk, log in, and return the session's form token."""
    store = client.app[BACKOFFICE].store
    await store.save_clerk("sachbearbeiter", await hash_password(PASSWORD), None, "")
    page = await client.get("/admin/login")
    fields = {
        "csrf_token": csrf_token(await page.text()),
        "name": "sachbearbeiter",
        "password": PASSWORD,
    }
    await client.post("/admin/login", data=fields)
    records = await client.get("/admin/links")
    assert records.status == 200
    return ADMIN_CSRF.search(await records.text()).group(1)


async def a_record(client) -> int:
    await send(client, SEPA, GOOD_SEPA)
    await wait_until_taken(client.app)
    [record] = await client.app[BACKOFFICE].store.records(None)
    return record["id"]


async def ask(client, token, record_id, marked, others="", message="Bitte prüfen"):
    fields = [("csrf_token", token), ("message", message)]
    fields += [("marked", name) for name in marked]
    fields += [("recipient", "erika@beispiel.de"), ("others_editable", others)]
    return await client.post(f"/admin/records/{record_id}/query", data=fields)


async def new_link(client, token, form="musterstadt/sepa-mandat", **values):
    """Send the clerk's page for a new pre-filled link to erika@beispiel.de."""
    fields = {"csrf_token": token, "form": form, "recipient": "erika@beispiel.de"}
    return await client.post("/admin/links/new", data={**fields, **values})


async def test_a_clerk_sends_a_pre_filled_form_from_the_admin_pages(client):
    token = await log_in(client)
    response = await new_link(client, token, KUNDE_ORT="Dresden")
    assert response.status == 200
    assert "die E-Mail ist unterwegs" in await response.text()
    form = await client.get(await mailed_link(client))
    assert 'name="KUNDE_ORT" type="text" value="Dresden"' in await form.text()


async def test_a_refused_pre_fill_shows_the_form_again_with_why(client):
    token = await log_in(client)
    response = await new_link(client, token, KUNDE_PLZ="1067")
    html = await response.text()
    assert response.status == 422
    assert "Der Link wurde nicht angelegt." in html
    assert 'value="1067"' in html


async def test_the_form_can_be_pre_filled_from_a_record(client):
    token = await log_in(client)
    record_id = await a_record(client)
    assert token
    page = await client.get(
        f"/admin/links/new?form=musterstadt/sepa-mandat&record={record_id}"
    )
    assert 'name="KUNDE_ORT"\n      value="Dresden"' in await page.text()


async def test_a_query_marks_the_record_waiting_and_its_answer_is_a_revision(client):
    token = await log_in(client)
    record_id = await a_record(client)
    await ask(client, token, record_id, ["KUNDE_ORT"])
    store = client.app[BACKOFFICE].store
    assert (await store.record(record_id))["status"] == "waiting"
    path = await mailed_link(client)
    answer = await send_link_form(client, path, {"KUNDE_ORT": "Leipzig"})
    assert answer.status == 200
    await wait_until_taken(client.app)
    record = await store.record(record_id)
    assert json.loads(record["field_values"])["KUNDE_ORT"] == "Leipzig"
    assert record["status"] == "in_progress"
    assert len(await store.records(None)) == 1


async def test_the_record_shows_what_the_correction_changed(client):
    token = await log_in(client)
    record_id = await a_record(client)
    await ask(client, token, record_id, ["KUNDE_ORT"])
    await send_link_form(client, await mailed_link(client), {"KUNDE_ORT": "Leipzig"})
    await wait_until_taken(client.app)
    html = await (await client.get(f"/admin/records/{record_id}")).text()
    assert "<td>Dresden</td><td>Leipzig</td>" in html
    assert "Zurückgekommen" in html


@pytest.mark.parametrize(
    ("others", "inputs", "fixed"),
    [("", ['name="KUNDE_ORT"'], "Hauptstraße"), ("ja", ['name="KUNDE_STRASSE"'], "")],
)
async def test_the_clerk_decides_whether_the_other_fields_may_change(
    client, others, inputs, fixed
):
    token = await log_in(client)
    record_id = await a_record(client)
    await ask(client, token, record_id, ["KUNDE_ORT"], others=others)
    html = await (await client.get(await mailed_link(client))).text()
    assert all(name in html for name in inputs)
    assert 'class="marked" id="m-KUNDE_ORT"' in html
    assert ("Ihre übrigen Angaben" in html) == bool(fixed)
    assert fixed in html


async def test_fields_the_customer_may_not_change_keep_their_value(client):
    token = await log_in(client)
    record_id = await a_record(client)
    await ask(client, token, record_id, ["KUNDE_ORT"])
    sent = {"KUNDE_ORT": "Leipzig", "BANK_KONTOINHABER": "Mallory"}
    await send_link_form(client, await mailed_link(client), sent)
    await wait_until_taken(client.app)
    values = json.loads(
        (await client.app[BACKOFFICE].store.record(record_id))["field_values"]
    )
    assert (values["KUNDE_ORT"], values["BANK_KONTOINHABER"]) == (
        "Leipzig",
        "Erika Mustermann",
    )


@pytest.mark.parametrize(
    ("marked", "message", "problem"),
    [
        ([], "Bitte prüfen", "Markieren Sie mindestens ein Feld"),
        (["KUNDE_ORT"], "", "Schreiben Sie eine Nachricht"),
    ],
)
async def test_a_query_needs_a_marked_field_and_a_message(
    client, marked, message, problem
):
    token = await log_in(client)
    record_id = await a_record(client)
    response = await ask(client, token, record_id, marked, message=message)
    assert response.status == 422
    assert problem in await response.text()


async def test_a_clerk_revokes_a_link_from_its_page(client):
    token = await log_in(client)
    record_id = await a_record(client)
    await ask(client, token, record_id, ["KUNDE_ORT"])
    [link] = await client.app[LINK_OFFICE].store.links(None)
    await client.post(f"/admin/links/{link.id}/revoke", data={"csrf_token": token})
    assert (await client.get(await mailed_link(client))).status == 410
    assert (await client.app[BACKOFFICE].store.record(record_id))["status"] == (
        "in_progress"
    )


@pytest.fixture
def refusing_smtp():
    server = SmtpServer(free_port()).start()
    server.recorder.answer = "550 5.1.1 Mailbox unavailable"
    yield server
    server.stop()


async def test_a_permanent_5xx_shows_on_the_link_and_the_record(
    aiohttp_client, data_dir, refusing_smtp
):
    mail = {"host": "127.0.0.1", "port": refusing_smtp.port, "security": "none"}
    client = await aiohttp_client(
        create_app(load_config(None, data=str(data_dir), mail=mail))
    )
    token = await log_in(client)
    record_id = await a_record(client)
    await ask(client, token, record_id, ["KUNDE_ORT"])
    [link] = await client.app[LINK_OFFICE].store.links(None)
    await wait_for_state(client, link.id, "failed")
    record_page = await (await client.get(f"/admin/records/{record_id}")).text()
    link_page = await (await client.get(f"/admin/links/{link.id}")).text()
    assert "Der Mailserver hat die E-Mail abgewiesen (550)." in record_page
    assert "Der Mailserver hat die E-Mail abgewiesen (550)." in link_page


async def test_with_the_server_stopped_mail_waits_and_goes_once_it_is_back(
    aiohttp_client, data_dir
):
    server = SmtpServer(free_port())
    mail = {"host": "127.0.0.1", "port": server.port, "security": "none"}
    client = await aiohttp_client(
        create_app(load_config(None, data=str(data_dir), mail=mail))
    )
    token = await log_in(client)
    await ask(client, token, await a_record(client), ["KUNDE_ORT"])
    [link] = await client.app[LINK_OFFICE].store.links(None)
    outbox = client.app[LINK_OFFICE].outbox
    [waiting] = await outbox.store.waiting()
    server.start()
    try:
        await outbox.deliver(waiting.id)
    finally:
        server.stop()
    assert [m["To"] for m in server.recorder.messages()] == ["erika@beispiel.de"]
    await wait_for_state(client, link.id, "sent")


async def test_a_waiting_query_is_reminded_halfway_under_a_new_token(client):
    await ask(client, await log_in(client), await a_record(client), ["KUNDE_ORT"])
    office = client.app[LINK_OFFICE]
    [link] = await office.store.links(None)
    due = client.app[SCHEDULER].due_at(f"link-reminder:{link.id}")
    assert due - datetime.fromisoformat(link.created_at) == timedelta(days=7)
    first = await mailed_link(client)
    await wait_for_state(client, link.id, "sent")
    await office.remind(link.id)
    mails = await wait_for_mails(client.app[CONFIG].outbox_dir, 2)
    receipt = link.prefill["receipt"]
    assert mails[-1]["Subject"] == f"Erinnerung: Rückfrage zu Ihrem Anliegen {receipt}"
    assert (await client.get(first)).status == 404
    assert (await client.get(link_path(mails[-1]))).status == 200


async def test_a_clerk_sends_an_order_to_a_provider_from_the_admin_pages(client):
    token = await log_in(client)
    fields = {"csrf_token": token, "form": "musterstadt/zaehlerwechsel"}
    fields |= {"provider": "1", **ORDER}
    response = await client.post("/admin/orders/new", data=fields)
    assert response.status == 200
    assert "Auftrag an Dienstleister" in await response.text()
    [link] = await client.app[LINK_OFFICE].store.links(None)
    assert (link.kind, link.recipient) == ("order", "zaehler@elektro-beispiel.example")


async def test_order_forms_are_not_offered_as_pre_filled_links(client):
    await log_in(client)
    html = await (await client.get("/admin/links/new")).text()
    orders = await (await client.get("/admin/orders/new")).text()
    assert "zaehlerwechsel" not in html
    assert 'value="musterstadt/zaehlerwechsel"' in orders


@pytest.mark.parametrize("path", ["/admin/links/new", "/admin/orders/new"])
async def test_a_clerk_whose_tenants_have_no_forms_is_told_so(client, path):
    await add_clerk(client.app, "nord", ADMIN_PASSWORD, ["nordstadt"])
    await conftest_log_in(client, "nord", ADMIN_PASSWORD)
    page = await (await client.get(path)).text()
    assert "Für Ihre Mandanten gibt es noch kein Formular dafür." in page
    assert "Weiter" not in page
    assert 'name="form"' not in page


async def test_a_returned_query_notes_its_return_once(client):
    token = await log_in(client)
    record_id = await a_record(client)
    await ask(client, token, record_id, ["KUNDE_ORT"])
    [link] = await client.app[LINK_OFFICE].store.links_of_record(record_id)
    await send_link_form(client, await mailed_link(client), {"KUNDE_ORT": "Leipzig"})
    await wait_until_taken(client.app)
    await wait_for_state(client, link.id, "returned")
    await client.app[LINK_OFFICE].apply_events()
    history = await client.app[LINK_OFFICE].store.history(link.id)
    assert [row["state"] for row in history].count("returned") == 1


async def test_a_resend_shows_as_such_in_the_clerks_history(client):
    await log_in(client)
    link_id = await make_link(client)
    await mailed_link(client)
    await client.app[LINK_OFFICE].resend(link_id)
    html = await (await client.get(f"/admin/links/{link_id}")).text()
    steps = re.findall(r"<li>[^<]*: ([^<]*)</li>", html)
    assert steps[0] == "Angelegt"
    assert steps.count("Angelegt") == 1
    assert "Erneut gesendet (neuer Link)" in steps


async def test_the_receipt_of_a_query_answer_finds_its_record(client):
    token = await log_in(client)
    record_id = await a_record(client)
    await ask(client, token, record_id, ["KUNDE_ORT"])
    answer = await send_link_form(
        client, await mailed_link(client), {"KUNDE_ORT": "Leipzig"}
    )
    [receipt] = set(RECEIPT.findall(await answer.text()))
    await wait_until_taken(client.app)
    record = await client.app[BACKOFFICE].store.record(record_id)
    assert receipt != record["receipt"]
    found = await client.get("/admin/records", params={"q": receipt.lower()})
    html = await found.text()
    assert listed(html) == [(record["receipt"], "In Bearbeitung")]
    assert f"gefunden über die Rückmeldung {receipt} vom" in html
