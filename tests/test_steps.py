"""A stepped form over the real app: each step checked, kept, and sent whole."""

import json

from app.commands import publish_definition
from app.keys import BACKOFFICE, PORTAL, TENANTS
from app.portal.step_views import START_AGAIN
from tests.conftest import csrf_token, form_data, receipt_number, wait_until_taken
from tests.stepping import CONTRACT, CONTRACT_PAGES, Walk, progress_of, state_of
from tests.test_definition import DEMO_FORMS


async def records(client):
    return await client.app[BACKOFFICE].store.records(None)


async def test_first_page_is_step_one_of_four(client):
    walk = await Walk(client).start()

    assert walk.status == 200
    assert progress_of(walk.html) == "Schritt 1 von 4: Tarif und Lieferbeginn"
    assert 'name="VERTRAG_TARIF"' in walk.html
    assert 'name="KUNDE_VORNAME"' not in walk.html


async def test_walking_the_steps_keeps_values_and_sends_the_whole_contract(client):
    walk = await (await Walk(client).start()).through(CONTRACT_PAGES)

    assert progress_of(walk.html) == "Bitte prüfen Sie Ihre Angaben"
    assert "Stromhaus Nord" in walk.html
    assert "Musterstadt Strom Öko" in walk.html
    await walk.post(action="absenden")
    assert walk.status == 200
    assert "MU-" in walk.html
    await wait_until_taken(client.app)
    [record] = await records(client)
    values = json.loads(record["field_values"])
    assert values["VORVERSORGER"] == "Stromhaus Nord"
    assert values["KUNDE_VORNAME"] == "Erika"
    assert values["BANK_BIC"] == "BYLADEM1001"


async def test_an_invalid_step_is_shown_again_with_its_errors_and_values(client):
    walk = await Walk(client).start()
    first = {**CONTRACT_PAGES[0], "VERTRAG_ANLASS": ""}

    await walk.post(first)

    assert walk.status == 422
    assert progress_of(walk.html) == "Schritt 1 von 4: Tarif und Lieferbeginn"
    assert '<a href="#f-VERTRAG_ANLASS">Wählen Sie den Anlass des Vertrags aus.' in (
        walk.html
    )
    assert f'value="{CONTRACT_PAGES[0]["VERTRAG_BEGINN"]}"' in walk.html
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_back_keeps_what_was_typed_on_both_steps(client):
    walk = await (await Walk(client).start()).through(CONTRACT_PAGES[:2])

    await walk.post({"ABNST_ORT": "Dresden"}, action="zurueck")
    assert progress_of(walk.html) == "Schritt 2 von 4: Ihre Angaben"
    assert 'value="Erika"' in walk.html
    await walk.post(CONTRACT_PAGES[1])
    assert progress_of(walk.html) == "Schritt 3 von 4: Lieferstelle"
    assert 'value="Dresden"' in walk.html


async def test_a_field_depends_on_the_answer_of_an_earlier_step(client):
    walk = await (await Walk(client).start()).through(CONTRACT_PAGES[:2])
    assert 'name="VORVERSORGER"' in walk.html

    await walk.post({**CONTRACT_PAGES[2], "VORVERSORGER": ""})

    assert walk.status == 422
    assert "Geben Sie Ihren bisherigen Stromanbieter an." in walk.html


async def test_change_on_the_check_page_goes_back_and_drops_what_no_longer_applies(
    client,
):
    walk = await (await Walk(client).start()).through(CONTRACT_PAGES)

    await walk.post(action="aendern-0")
    assert progress_of(walk.html) == "Schritt 1 von 4: Tarif und Lieferbeginn"
    assert 'value="01" checked' in walk.html
    await walk.post({**CONTRACT_PAGES[0], "VERTRAG_ANLASS": "02"})
    await walk.post(CONTRACT_PAGES[1])
    assert 'name="VORVERSORGER"' not in walk.html
    assert 'value="Hauptstraße"' in walk.html
    await walk.through(CONTRACT_PAGES[2:])
    assert "Stromhaus Nord" not in walk.html
    await walk.post(action="absenden")
    await wait_until_taken(client.app)
    [record] = await records(client)
    values = json.loads(record["field_values"])
    assert (values["VERTRAG_ANLASS"], "VORVERSORGER" in values) == ("02", False)


async def test_a_change_button_cannot_jump_ahead(client):
    walk = await Walk(client).start()

    await walk.post(CONTRACT_PAGES[0], action="aendern-3")

    assert walk.status == 400


async def test_a_send_missing_required_answers_shows_the_check_page_with_them(client):
    walk = await Walk(client).start()

    await walk.post(CONTRACT_PAGES[0], action="absenden")

    assert walk.status == 422
    assert progress_of(walk.html) == "Bitte prüfen Sie Ihre Angaben"
    assert "<li>Geben Sie Ihren Vornamen an.</li>" in walk.html
    assert "<li>Setzen Sie das Häkchen bei" in walk.html
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_sending_the_check_page_twice_stores_one_record(client):
    walk = await (await Walk(client).start()).through(CONTRACT_PAGES)
    check = walk.html

    first = receipt_number(await (await walk.post(action="absenden")).text())
    walk.html = check
    second = receipt_number(await (await walk.post(action="absenden")).text())

    assert first == second
    await wait_until_taken(client.app)
    assert len(await records(client)) == 1


def flipped(state: str) -> str:
    middle = len(state) // 2
    return state[:middle] + ("A" if state[middle] != "A" else "B") + state[middle + 1 :]


async def test_an_altered_state_is_refused_and_nothing_is_stored(client):
    walk = await (await Walk(client).start()).through(CONTRACT_PAGES[:1])

    await walk.post(CONTRACT_PAGES[1], state=flipped(state_of(walk.html)))

    assert walk.status == 403
    assert START_AGAIN in walk.html
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_a_page_without_state_is_refused(client):
    walk = await Walk(client).start()
    body = form_data(csrf_token(walk.html), CONTRACT_PAGES[0])

    response = await client.post(CONTRACT, data=body)

    assert response.status == 403
    assert START_AGAIN in await response.text()


async def test_a_state_from_another_browser_is_refused(client):
    walk = await (await Walk(client).start()).through(CONTRACT_PAGES[:1])
    theirs = state_of(walk.html)
    client.session.cookie_jar.clear()
    await walk.start()

    await walk.post(CONTRACT_PAGES[0], state=theirs)

    assert walk.status == 403
    assert START_AGAIN in walk.html


async def test_a_state_of_another_version_is_refused(client):
    walk = await (await Walk(client).start()).through(CONTRACT_PAGES[:1])
    old = state_of(walk.html)
    text = (
        (DEMO_FORMS / "stromvertrag.yaml")
        .read_text()
        .replace("title: Stromvertrag abschließen", "title: Stromvertrag neu")
    )
    app = client.app
    await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], text, "t")
    await walk.start()
    assert "Stromvertrag neu" in walk.html

    await walk.post(CONTRACT_PAGES[1], state=old)

    assert walk.status == 403
    assert START_AGAIN in walk.html
