"""A form may ask for something the customer knows before its link shows values."""

import pytest

from app.keys import LINK_OFFICE
from tests.conftest import csrf_token, form_data
from tests.linkhelp import mailed_link, make_link, wait_for_state

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
