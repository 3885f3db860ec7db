"""MODWORK's links over the real app: links, queries, orders and their states."""

import logging

import pytest

from app.api.auth import API_KEYS, revoke_key
from app.application import create_app
from app.backoffice.links import PREFILL_GONE
from app.keys import BACKOFFICE, CONFIG, LINK_OFFICE, PORTAL_LINKS
from tests import api_support
from tests.api_support import bearer, modwork_config, new_key
from tests.conftest import free_port
from tests.images import jpeg_photo, png_photo
from tests.linkhelp import link_path, send_link_form, wait_for_mails, wait_for_state
from tests.smtp import SmtpServer
from tests.test_api import get_json, opened_values, sent
from tests.test_orders import ORDER, RESULT
from tests.test_submission import GOOD_SEPA

api = api_support.api
modwork_key_path = api_support.modwork_key_path

LINK = {
    "form": "sepa-mandat",
    "email": "erika@beispiel.de",
    "values": {"BANK_KONTOINHABER": "Erika Mustermann", "KUNDE_ORT": "Dresden"},
}
QUERY = {
    "form": "sepa-mandat",
    "email": "erika@beispiel.de",
    "record_ref": "MW-2026-000815",
    "values": {k: v for k, v in GOOD_SEPA.items() if k != "SEPA_ZUSTIMMUNG"},
    "marked": ["BANK_IBAN"],
    "message": "Bitte prüfen Sie Ihre IBAN.",
}
WINDOW = {"from": ORDER["AUFTRAG_TERMIN_VON"], "until": ORDER["AUFTRAG_TERMIN_BIS"]}
ORDER_BODY = {
    "form": "zaehlerwechsel",
    "provider": "Elektro Beispiel KG",
    "record_ref": "MW-AUFTRAG-77",
    "values": {k: v for k, v in ORDER.items() if not k.startswith("AUFTRAG_")},
    "window": WINDOW,
}


async def made(api, key, path="/api/v1/links", body=LINK) -> dict:
    response = await api.post(path, json=body, headers=bearer(key))
    assert response.status == 201, await response.text()
    made = await response.json()
    assert response.headers["Location"] == f"/api/v1/links/{made['id']}"
    return made


async def mails(api, count: int = 1):
    return await wait_for_mails(api.app[CONFIG].outbox_dir, count)


async def problem(response, status: int) -> dict:
    assert response.status == status
    assert response.content_type == "application/problem+json"
    return await response.json()


# Making links.


async def test_a_link_answers_its_id_and_state_and_mails_the_customer(api):
    key = await new_key(api)
    body = await made(api, key)
    stored = await api.app[LINK_OFFICE].store.link(body["id"])
    assert body["kind"] == "contract"
    assert body["form"] == {"slug": "sepa-mandat", "version": 1}
    assert (body["record_ref"], body["failure"]) == (None, None)
    assert body["history"][0] == {"state": "created", "at": stored.created_at}
    assert stored.prefill["values"] == LINK["values"]
    assert stored.created_by == "api:modwork"
    [mail] = await mails(api)
    assert mail["To"] == "erika@beispiel.de"


async def test_a_link_state_reads_as_sent_once_its_mail_is_gone(api):
    key = await new_key(api)
    link_id = (await made(api, key))["id"]
    await mails(api)
    await wait_for_state(api, link_id, "sent")
    status, body = await get_json(api, f"/api/v1/links/{link_id}", key)
    assert status == 200
    assert body["state"] == "sent"
    assert [h["state"] for h in body["history"]] == ["created", "sent"]


async def test_a_link_made_by_the_api_opens_and_its_form_reaches_modwork(
    api, modwork_key_path
):
    key = await new_key(api)
    link_id = (await made(api, key))["id"]
    [mail] = await mails(api)
    page = await api.get(link_path(mail))
    assert 'name="KUNDE_ORT" type="text" value="Dresden"' in await page.text()
    sent = await send_link_form(api, link_path(mail), GOOD_SEPA)
    assert sent.status == 200

    status, listing = await get_json(api, "/api/v1/submissions", key)
    [summary] = listing["submissions"]
    status, envelope = await get_json(api, f"/api/v1/submissions/{summary['id']}", key)
    assert envelope["link_id"] == link_id
    opened = opened_values(envelope, modwork_key_path)
    assert (opened["link_id"], opened["record_ref"]) == (link_id, None)
    assert opened["values"]["BANK_IBAN"] == "DE02120300000000202051"
    status, link = await get_json(api, f"/api/v1/links/{link_id}", key)
    assert link["state"] == "returned"


async def test_a_submission_not_from_a_link_names_no_link(api):
    key = await new_key(api)
    submission_id = await sent(api)
    status, envelope = await get_json(api, f"/api/v1/submissions/{submission_id}", key)
    assert (status, envelope["link_id"]) == (200, None)


async def test_a_check_value_is_asked_before_the_values_show(api):
    key = await new_key(api)
    body = {
        "form": "stromvertrag",
        "email": "erika@beispiel.de",
        "values": {"KUNDE_NACHNAME": "Mustermann"},
        "check_value": "01067",
    }
    link_id = (await made(api, key, body=body))["id"]
    stored = await api.app[LINK_OFFICE].store.link(link_id)
    assert stored.prefill["check"] == "ABNST_PLZ"
    assert stored.prefill["values"]["ABNST_PLZ"] == "01067"


async def test_a_query_carries_modworks_record_reference_back(api, modwork_key_path):
    key = await new_key(api)
    body = await made(api, key, "/api/v1/queries", QUERY)
    assert (body["kind"], body["record_ref"]) == ("query", "MW-2026-000815")
    [mail] = await mails(api)
    page = await (await api.get(link_path(mail))).text()
    assert "Bitte prüfen Sie Ihre IBAN." in page
    await send_link_form(api, link_path(mail), GOOD_SEPA)

    status, listing = await get_json(api, "/api/v1/submissions", key)
    [summary] = listing["submissions"]
    status, envelope = await get_json(api, f"/api/v1/submissions/{summary['id']}", key)
    opened = opened_values(envelope, modwork_key_path)
    assert (opened["link_id"], opened["record_ref"]) == (body["id"], "MW-2026-000815")
    assert await api.app[BACKOFFICE].store.records(None) == []


async def test_an_order_goes_to_the_named_provider_with_its_window(
    api, modwork_key_path
):
    key = await new_key(api)
    body = await made(api, key, "/api/v1/orders", ORDER_BODY)
    assert (body["kind"], body["record_ref"]) == ("order", "MW-AUFTRAG-77")
    stored = await api.app[LINK_OFFICE].store.link(body["id"])
    assert stored.prefill["due"] == ORDER["AUFTRAG_TERMIN_BIS"]
    assert stored.prefill["values"] == ORDER
    assert await api.app[BACKOFFICE].store.records(None) == []
    [mail] = await mails(api)
    assert mail["To"] == "zaehler@elektro-beispiel.example"
    photos = {
        "WECHSEL_FOTO_ALT": ("alt.jpg", jpeg_photo()),
        "WECHSEL_FOTO_NEU": ("neu.png", png_photo()),
    }
    sent = await send_link_form(api, link_path(mail), RESULT, photos)
    assert sent.status == 200
    status, listing = await get_json(api, "/api/v1/submissions", key)
    [summary] = listing["submissions"]
    status, envelope = await get_json(api, f"/api/v1/submissions/{summary['id']}", key)
    opened = opened_values(envelope, modwork_key_path)
    assert (opened["link_id"], opened["record_ref"]) == (body["id"], "MW-AUFTRAG-77")


# Revoking and sending again.


async def test_a_revoked_link_stops_and_a_second_revoke_is_409(api):
    key = await new_key(api)
    link_id = (await made(api, key))["id"]
    [mail] = await mails(api)
    response = await api.post(f"/api/v1/links/{link_id}/revoke", headers=bearer(key))
    assert response.status == 200
    assert (await response.json())["state"] == "revoked"
    assert (await api.get(link_path(mail))).status == 410
    again = await api.post(f"/api/v1/links/{link_id}/revoke", headers=bearer(key))
    assert (await problem(again, 409))["detail"] == "Dieser Link gilt schon nicht mehr."


async def test_a_revoked_link_keeps_its_record_ref_and_cannot_be_resent(api):
    key = await new_key(api)
    link_id = (await made(api, key, "/api/v1/orders", ORDER_BODY))["id"]
    await mails(api)
    await api.post(f"/api/v1/links/{link_id}/revoke", headers=bearer(key))
    again = await api.post(f"/api/v1/links/{link_id}/resend", headers=bearer(key))
    status, link = await get_json(api, f"/api/v1/links/{link_id}", key)
    assert (await problem(again, 409))["detail"] == PREFILL_GONE
    assert (link["state"], link["record_ref"]) == ("revoked", "MW-AUFTRAG-77")


async def test_a_resent_link_goes_out_under_a_new_token(api):
    key = await new_key(api)
    link_id = (await made(api, key))["id"]
    [first] = await mails(api)
    await wait_for_state(api, link_id, "sent")
    response = await api.post(f"/api/v1/links/{link_id}/resend", headers=bearer(key))
    assert response.status == 200
    assert [h["state"] for h in (await response.json())["history"]] == [
        "created",
        "sent",
        "created",
    ]
    _, second = await mails(api, 2)
    assert link_path(second) != link_path(first)
    assert (await api.get(link_path(first))).status == 404
    assert (await api.get(link_path(second))).status == 200


# Refusals.


CREATES = [
    ("/api/v1/links", LINK),
    ("/api/v1/queries", QUERY),
    ("/api/v1/orders", ORDER_BODY),
]


@pytest.mark.parametrize(("path", "body"), CREATES)
async def test_making_a_link_needs_links_write(api, path, body):
    key = await new_key(api, scopes=["submissions:read", "forms:write"])
    response = await api.post(path, json=body, headers=bearer(key))
    await problem(response, 403)
    assert "links:write" in response.headers["WWW-Authenticate"]
    assert await api.app[LINK_OFFICE].store.links(None) == []


@pytest.mark.parametrize(("path", "body"), CREATES)
@pytest.mark.parametrize("kind", ["none", "wrong", "revoked"])
async def test_making_a_link_without_a_live_key_is_401(api, path, body, kind):
    key = await new_key(api)
    headers = {"none": {}, "wrong": bearer("mpk_" + "x" * 43), "revoked": bearer(key)}
    if kind == "revoked":
        await revoke_key(api.app[API_KEYS], "musterstadt", "modwork")
    response = await api.post(path, json=body, headers=headers[kind])
    await problem(response, 401)
    assert await api.app[LINK_OFFICE].store.links(None) == []


@pytest.mark.parametrize("call", ["GET", "revoke", "resend"])
async def test_another_tenants_key_does_not_see_or_touch_a_link(api, call):
    link_id = (await made(api, await new_key(api)))["id"]
    other = await new_key(api, tenant="nordstadt", name="other")
    response = await call_link(api, call, link_id, other)
    body = await problem(response, 404)
    assert body["detail"] == "Diesen Link gibt es nicht."
    assert link_id not in await response.text()
    assert (await api.app[LINK_OFFICE].store.link(link_id)).state in {
        "created",
        "sent",
    }


async def call_link(api, call: str, link_id: str, key: str | None):
    """GET, revoke or resend a link with a key (or none)."""
    path = f"/api/v1/links/{link_id}"
    headers = bearer(key) if key else {}
    if call == "GET":
        return await api.get(path, headers=headers)
    return await api.post(f"{path}/{call}", headers=headers)


@pytest.mark.parametrize("call", ["GET", "revoke", "resend"])
async def test_reading_or_changing_a_link_needs_links_write(api, call):
    link_id = (await made(api, await new_key(api)))["id"]
    reader = await new_key(api, scopes=["submissions:read", "forms:write"], name="r")
    response = await call_link(api, call, link_id, reader)
    await problem(response, 403)
    assert "links:write" in response.headers["WWW-Authenticate"]
    history = await api.app[LINK_OFFICE].store.history(link_id)
    assert "revoked" not in [h["state"] for h in history]
    assert [h["state"] for h in history].count("created") == 1


@pytest.mark.parametrize("call", ["GET", "revoke", "resend"])
@pytest.mark.parametrize("kind", ["none", "revoked"])
async def test_reading_or_changing_a_link_without_a_live_key_is_401(api, call, kind):
    key = await new_key(api)
    link_id = (await made(api, key))["id"]
    if kind == "revoked":
        await revoke_key(api.app[API_KEYS], "musterstadt", "modwork")
    response = await call_link(api, call, link_id, key if kind == "revoked" else None)
    body = await problem(response, 401)
    assert link_id not in str(body)
    history = await api.app[LINK_OFFICE].store.history(link_id)
    assert [h["state"] for h in history].count("created") == 1


async def test_another_tenants_key_cannot_use_this_tenants_forms(api):
    other = await new_key(api, tenant="nordstadt", name="other")
    response = await api.post("/api/v1/links", json=LINK, headers=bearer(other))
    body = await problem(response, 422)
    assert body["errors"] == [
        {"field": "form", "message": "Dieses Formular gibt es nicht."}
    ]


async def test_a_deleted_form_sends_no_link(api):
    key = await new_key(api)
    assert (await api.delete("/api/v1/forms/sepa-mandat", headers=bearer(key))).ok
    response = await api.post("/api/v1/links", json=LINK, headers=bearer(key))
    body = await problem(response, 422)
    assert body["errors"] == [
        {"field": "form", "message": "Dieses Formular ist gelöscht."}
    ]
    assert await api.app[LINK_OFFICE].store.links(None) == []


@pytest.mark.parametrize("link_id", ["0123456789abcdef", "nonsense"])
async def test_an_unknown_link_is_404(api, link_id):
    key = await new_key(api)
    response = await api.get(f"/api/v1/links/{link_id}", headers=bearer(key))
    await problem(response, 404)


@pytest.mark.parametrize(
    ("path", "change", "errors"),
    [
        (
            "/api/v1/links",
            {"form": "gibt-es-nicht"},
            [{"field": "form", "message": "Dieses Formular gibt es nicht."}],
        ),
        (
            "/api/v1/links",
            {"email": "keine-adresse"},
            [{"field": "email", "message": "Die E-Mail-Adresse ist ungültig."}],
        ),
        (
            "/api/v1/links",
            {"values": {"BANK_IBANX": "DE02", "BANK_IBAN": "DE00 0000"}},
            [
                {
                    "field": "values.BANK_IBANX",
                    "message": "Das Formular hat kein solches Feld.",
                },
                {"field": "values.BANK_IBAN", "message": None},
            ],
        ),
        (
            "/api/v1/links",
            {"values": {"SEPA_ZUSTIMMUNG": "ja"}},
            [
                {
                    "field": "values.SEPA_ZUSTIMMUNG",
                    "message": "Eine Zustimmung gibt der Kunde selbst.",
                }
            ],
        ),
        (
            "/api/v1/links",
            {"values": {"KUNDE_ORT": ["Dresden"]}},
            [
                {
                    "field": "values.KUNDE_ORT",
                    "message": "Geben Sie einen Text an, keine Liste.",
                }
            ],
        ),
        (
            "/api/v1/links",
            {"check_value": "01067"},
            [
                {
                    "field": "check_value",
                    "message": "Dieses Formular fragt keinen Prüfwert ab.",
                }
            ],
        ),
        (
            "/api/v1/queries",
            {"record_ref": "", "message": "", "marked": ["NICHT_DA"]},
            [
                {"field": "record_ref", "message": "Diese Angabe fehlt."},
                {"field": "message", "message": "Diese Angabe fehlt."},
                {
                    "field": "marked.NICHT_DA",
                    "message": "Das Formular hat kein solches Feld.",
                },
            ],
        ),
        (
            "/api/v1/queries",
            {"marked": []},
            [{"field": "marked", "message": "Markieren Sie mindestens ein Feld."}],
        ),
        (
            "/api/v1/orders",
            {"provider": "Niemand GmbH"},
            [
                {
                    "field": "provider",
                    "message": "Diesen Dienstleister kennt der Mandant nicht.",
                }
            ],
        ),
        (
            "/api/v1/orders",
            {"values": {**ORDER_BODY["values"], "ZAEHLER_NR": ""}},
            [
                {
                    "field": "values.ZAEHLER_NR",
                    "message": "Füllen Sie das Feld „Nummer des alten Zählers“ aus.",
                }
            ],
        ),
        (
            "/api/v1/orders",
            {"form": "sepa-mandat"},
            [{"field": "form", "message": "Dieses Formular ist kein Auftrag."}],
        ),
        (
            "/api/v1/orders",
            {"window": {"from": WINDOW["until"], "until": WINDOW["from"]}},
            [
                {
                    "field": "window.until",
                    "message": "Der späteste Termin liegt vor dem frühesten.",
                }
            ],
        ),
        (
            "/api/v1/orders",
            {"window": {"from": "2020-01-06", "until": "2020-01-10"}},
            [
                {
                    "field": "window.until",
                    "message": "Der späteste Termin liegt in der Vergangenheit.",
                }
            ],
        ),
        (
            "/api/v1/orders",
            {"window": {"from": "morgen"}},
            [
                {
                    "field": "window.from",
                    "message": "Geben Sie ein Datum als JJJJ-MM-TT an.",
                },
                {
                    "field": "window.until",
                    "message": "Geben Sie ein Datum als JJJJ-MM-TT an.",
                },
            ],
        ),
    ],
)
async def test_wrong_input_is_refused_naming_each_field(api, path, change, errors):
    key = await new_key(api)
    base = {"/api/v1/links": LINK, "/api/v1/queries": QUERY}.get(path, ORDER_BODY)
    response = await api.post(path, json={**base, **change}, headers=bearer(key))
    body = await problem(response, 422)
    found = [
        {**e, "message": None} if x["message"] is None else e
        for e, x in zip(body["errors"], errors, strict=True)
    ]
    assert found == errors
    assert await api.app[LINK_OFFICE].store.links(None) == []


@pytest.mark.parametrize(
    ("content_type", "data", "status"),
    [
        ("text/plain", b"{}", 415),
        ("application/json", b"{kein json", 422),
        ("application/json", b"[1]", 422),
    ],
)
async def test_a_body_that_is_no_json_object_is_refused(
    api, content_type, data, status
):
    key = await new_key(api)
    headers = {**bearer(key), "Content-Type": content_type}
    response = await api.post("/api/v1/links", data=data, headers=headers)
    await problem(response, status)


# Logs.


async def test_no_token_address_or_value_reaches_the_log(api, caplog):
    # The test server's access log is aiohttp's own; `serve` logs routes only.
    caplog.set_level(logging.DEBUG, logger="app")
    key = await new_key(api)
    link_id = (await made(api, key, "/api/v1/queries", QUERY))["id"]
    [mail] = await mails(api)
    await send_link_form(api, link_path(mail), GOOD_SEPA)
    await api.get(f"/api/v1/links/{link_id}", headers=bearer(key))
    bad = dict(QUERY, email="kaputt@")
    await api.post("/api/v1/queries", json=bad, headers=bearer(key))
    token = link_path(mail).removeprefix("/l/")
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name[:4] == "app.")
    for secret in [key, token, "erika@beispiel.de", "MW-2026-000815", "Dresden"]:
        assert secret not in ours
    assert f"made link {link_id}" in ours
    assert await api.app[PORTAL_LINKS].store.link(link_id) is not None


# Mail through a real SMTP server on loopback.


@pytest.fixture
def smtp():
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


async def smtp_api(aiohttp_client, data_dir, modwork_key_path, smtp):
    mail = {"host": "127.0.0.1", "port": smtp.port, "security": "none"}
    config = modwork_config(data_dir, modwork_key_path, mail=mail)
    return await aiohttp_client(create_app(config))


async def test_a_link_mailed_over_smtp_reads_as_sent(
    aiohttp_client, data_dir, modwork_key_path, smtp
):
    client = await smtp_api(aiohttp_client, data_dir, modwork_key_path, smtp)
    key = await new_key(client)
    link_id = (await made(client, key))["id"]
    await wait_for_state(client, link_id, "sent")
    [message] = smtp.recorder.messages()
    assert message["To"] == "erika@beispiel.de"
    assert link_path(message).startswith(f"/l/{link_id}.")


async def test_a_mail_the_server_refuses_reads_as_failed_with_why(
    aiohttp_client, data_dir, modwork_key_path, smtp
):
    smtp.recorder.answer = "550 5.1.1 Mailbox unavailable"
    client = await smtp_api(aiohttp_client, data_dir, modwork_key_path, smtp)
    key = await new_key(client)
    link_id = (await made(client, key))["id"]
    await wait_for_state(client, link_id, "failed")
    status, body = await get_json(client, f"/api/v1/links/{link_id}", key)
    assert (status, body["state"]) == (200, "failed")
    assert body["failure"] == "Der Mailserver hat die E-Mail abgewiesen (550)."
    assert [h["state"] for h in body["history"]] == ["created", "failed"]
