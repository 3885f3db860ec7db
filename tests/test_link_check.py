"""A form may ask for something the customer knows before its link shows values."""

import logging

import pytest

from app.backoffice.links import LinkError
from app.backoffice.orders import OrderRequest, create_order
from app.backoffice.service import DEMO_FORMS
from app.clock import iso, utcnow
from app.commands import publish_definition
from app.keys import BACKOFFICE, CONFIG, LINK_OFFICE, PORTAL, PORTAL_LINKS, TENANTS
from app.storage.backoffice import NewRecord
from tests.conftest import csrf_token, form_data, run_py
from tests.linkhelp import mailed_link, make_link, outbox_files, wait_for_state
from tests.test_link_admin import ask, log_in, new_link
from tests.test_orders import ORDER

CONTRACT = {"KUNDE_NACHNAME": "Quellwasser", "ABNST_PLZ": "01067"}


async def answer(client, link_id: str, page, given: str):
    fields = {"csrf_token": csrf_token(await page.text()), "answer": given}
    return await client.post(f"/l/{link_id}/pruefen", data=fields)


async def opened(client):
    link_id = await make_link(client, CONTRACT, slug="stromvertrag")
    page = await client.get(await mailed_link(client))
    return link_id, page


async def test_the_values_stay_hidden_until_the_check_is_answered(client):
    _, page = await opened(client)
    html = await page.text()
    assert "Quellwasser" not in html
    assert '<label class="field__label" for="f-answer">Postleitzahl</label>' in html


@pytest.mark.parametrize("given", ["01067", " 01067 ", "010 67"])
async def test_the_right_answer_opens_the_pre_filled_form(client, given):
    link_id, page = await opened(client)
    form = await answer(client, link_id, page, given)
    assert form.url.path == f"/l/{link_id}/formular"
    assert 'value="Quellwasser"' in await form.text()


async def test_a_wrong_answer_says_how_many_tries_are_left(client):
    link_id, page = await opened(client)
    wrong = await answer(client, link_id, page, "99999")
    assert wrong.status == 422
    assert "Sie haben noch 2 Versuche." in await wrong.text()


async def test_three_wrong_answers_lock_the_link(client):
    link_id, page = await opened(client)
    for _ in range(3):
        page = await answer(client, link_id, page, "99999")
    assert page.status == 410
    assert "Link gesperrt" in await page.text()
    await wait_for_state(client, link_id, "revoked")
    link = await client.app[LINK_OFFICE].store.link(link_id)
    assert link.failure.startswith("Nach zu vielen falschen Antworten")


async def test_a_send_without_the_answer_is_refused(client):
    link_id, page = await opened(client)
    sent = await client.post(
        f"/l/{link_id}/formular", data=form_data(csrf_token(await page.text()), {})
    )
    assert sent.status == 403


# A link to such a form is refused without the value the check expects.

NO_PLZ = (
    "ABNST_PLZ: Geben Sie „Postleitzahl“ an. Das Formular fragt diesen Wert vor "
    "dem Öffnen des Links als Sicherheitsfrage ab."
)


async def nothing_was_sent(client) -> bool:
    office = client.app[LINK_OFFICE]
    return await office.store.links(None) == [] and not outbox_files(
        client.app[CONFIG].outbox_dir
    )


async def test_the_admin_page_refuses_a_link_without_the_checked_value(client):
    token = await log_in(client)
    contract = "musterstadt/stromvertrag"
    refused = await new_link(client, token, contract, KUNDE_NACHNAME="Quellwasser")
    assert refused.status == 422
    assert NO_PLZ in await refused.text()
    assert await nothing_was_sent(client)


def test_send_link_refuses_a_link_without_the_checked_value(tmp_path):
    values = tmp_path / "werte.yaml"
    values.write_text("KUNDE_NACHNAME: Quellwasser\n", encoding="utf-8")
    data = tmp_path / "data"
    result = run_py(
        "send-link",
        "musterstadt",
        "stromvertrag",
        "--to",
        "erika@beispiel.de",
        "--values",
        str(values),
        "--data",
        str(data),
    )
    assert (result.returncode, result.stderr.endswith(f"\n{NO_PLZ}\n")) == (1, True)
    assert outbox_files(data / "outbox") == []


async def test_a_query_on_a_record_without_the_checked_value_is_refused(client):
    token = await log_in(client)
    record_id = await a_record_without_plz(client)
    refused = await ask(client, token, record_id, ["KUNDE_NACHNAME"])
    assert refused.status == 422
    assert NO_PLZ in await refused.text()
    assert await nothing_was_sent(client)


async def test_an_order_whose_form_checks_an_empty_field_is_refused_unopened(client):
    app = client.app
    demo = (DEMO_FORMS / "zaehlerwechsel.yaml").read_text(encoding="utf-8")
    text = demo.replace("slug: zaehlerwechsel", "slug: wechsel-geprueft").replace(
        "sections:", "link_check: KUNDE_NACHNAME\nsections:"
    )
    await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], text, "t")
    wanted = OrderRequest(
        "musterstadt", "wechsel-geprueft", 0, {**ORDER, "KUNDE_NACHNAME": ""}
    )
    with pytest.raises(LinkError, match="KUNDE_NACHNAME: Geben Sie „Name am Klingel"):
        await create_order(app[LINK_OFFICE], wanted, "test")
    assert await app[BACKOFFICE].store.records(None) == []
    assert await nothing_was_sent(client)


async def a_record_without_plz(client) -> int:
    """Store a contract's record as an older version could have left it."""
    store = client.app[BACKOFFICE].store
    now = iso(utcnow())
    await store.add_records(
        [
            NewRecord(
                "s-ohne-plz",
                "musterstadt",
                "STROMVERTRAG",
                "stromvertrag",
                1,
                "Stromvertrag",
                "R-1",
                now,
                now,
                {"KUNDE_NACHNAME": "Quellwasser"},
                (),
            )
        ]
    )
    [record] = await store.records(None)
    return record["id"]


async def test_the_admin_page_marks_the_checked_field_as_needed(client):
    await log_in(client)
    page = await client.get("/admin/links/new?form=musterstadt/stromvertrag")
    html = await page.text()
    assert 'name="ABNST_PLZ"\n      value="" autocomplete="off" required' in html
    assert "Pflichtangabe: Das Formular fragt" in html


async def test_the_clerk_sees_why_a_locked_link_was_revoked(client):
    link_id, page = await opened(client)
    for _ in range(3):
        page = await answer(client, link_id, page, "99999")
    await wait_for_state(client, link_id, "revoked")
    await log_in(client)
    html = await (await client.get(f"/admin/links/{link_id}")).text()
    assert "Gesperrt nach 3 falschen Antworten auf die Sicherheitsfrage" in html


@pytest.mark.parametrize(
    ("end", "reason"),
    [("lock", "locked"), ("revoke", "revoked"), ("expire", "expired")],
)
async def test_the_log_gives_the_true_reason_of_a_refused_link(
    client, caplog, end, reason
):
    link_id, page = await opened(client)
    path = await mailed_link(client)
    if end == "lock":
        for _ in range(3):
            page = await answer(client, link_id, page, "99999")
    elif end == "revoke":
        await client.app[LINK_OFFICE].revoke(link_id)
    else:
        await client.app[PORTAL_LINKS].expire(link_id)
    caplog.set_level(logging.WARNING, logger="app")
    assert (await client.get(path)).status == 410
    refused = [r.getMessage() for r in caplog.records if "Refused" in r.getMessage()]
    assert refused == [f"Refused a link token: {reason}"]
