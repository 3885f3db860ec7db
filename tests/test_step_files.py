"""Files on a step: sealed as they arrive, staged, joined to the send, expired."""

import io

import pytest
from PIL import Image

from app.application import create_app
from app.clock import utcnow
from app.commands import publish_definition
from app.keys import BACKOFFICE, PORTAL, SCHEDULER, TENANTS
from app.portal.step_views import START_AGAIN
from app.portal.steps import STEPS
from tests.admin_helpers import Clock
from tests.conftest import wait_until_taken
from tests.stepping import CONTRACT_PAGES, Walk, progress_of, state_of
from tests.test_no_trace import loose_modes, marked_photo, portal_traces

PATH = "/musterstadt/ablesung-schritte"
FORM = """\
tenant: musterstadt
slug: ablesung-schritte
title: Ablesung in Schritten
record_type: ZAEHLERSTAND
steps:
  - title: Foto
    sections:
      - title: Ihr Gerät
        help: Ein Foto des ganzen Zählers, mit der Nummer lesbar.
        fields:
          - field: ZAEHLER_FOTO
            required: "true"
          - field: ZAEHLER_NR
            required: "true"
  - title: Stand
    sections:
      - title: Zählerstand
        fields:
          - field: ZAEHLER_STAND
            required: "true"
"""
MARKERS = {"text": "MKSTEPTEXT0417", "name": "MKSTEPNAME0815", "exif": "MKSTEPEXIF4711"}


@pytest.fixture
def clock() -> Clock:
    return Clock(utcnow())


@pytest.fixture
async def client(aiohttp_client, config, clock):
    client = await aiohttp_client(create_app(config, clock))
    app = client.app
    await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], FORM, "t")
    return client


def staged(data_dir) -> list:
    return sorted(p for p in (data_dir / "portal" / "staged").rglob("*") if p.is_file())


async def photo_step(client) -> Walk:
    """Fill the first step with the marked meter number and photo."""
    walk = await Walk(client, PATH).start()
    photo = {"ZAEHLER_FOTO": (f"{MARKERS['name']}.jpg", marked_photo(MARKERS["exif"]))}
    await walk.post({"ZAEHLER_NR": MARKERS["text"]}, files=photo)
    assert progress_of(walk.html) == "Schritt 2 von 2: Stand", walk.html
    return walk


async def test_a_staged_file_is_sealed_and_nothing_of_the_step_is_readable(
    client, data_dir
):
    await photo_step(client)

    assert len(staged(data_dir)) == 1
    assert portal_traces(data_dir, MARKERS) == {}


async def test_a_staged_file_joins_the_send_whole(client, data_dir):
    walk = await photo_step(client)
    await walk.post({"ZAEHLER_STAND": "012345,6"})
    assert f"{MARKERS['name']}.jpg" in walk.html

    await walk.post(action="absenden")

    assert walk.status == 200, walk.html
    assert staged(data_dir) == []
    await wait_until_taken(client.app)
    store = client.app[BACKOFFICE].store
    [record] = await store.records(None)
    [attachment] = await store.attachments(record["id"])
    stored = client.app[BACKOFFICE].attachment_path(attachment["id"]).read_bytes()
    assert attachment["filename"] == f"{MARKERS['name']}.jpg"
    assert Image.open(io.BytesIO(stored)).size == (64, 48)
    assert portal_traces(data_dir, MARKERS) == {}


async def test_a_send_whose_staged_file_is_gone_is_refused_and_leaves_no_lock(
    client, data_dir
):
    walk = await photo_step(client)
    await walk.post({"ZAEHLER_STAND": "012345,6"})
    for path in staged(data_dir):
        path.unlink()

    await walk.post(action="absenden")

    assert walk.status == 403
    assert START_AGAIN in walk.html
    assert client.app[STEPS].sends_under_way() == 0
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_the_step_keeps_a_staged_file_when_it_is_shown_again(client, data_dir):
    walk = await photo_step(client)

    await walk.post({"ZAEHLER_STAND": ""}, action="zurueck")

    assert f"Gespeichert:\n      {MARKERS['name']}.jpg" in walk.html
    await walk.post({"ZAEHLER_NR": "1ESY1160523456"})
    assert walk.status == 200
    assert len(staged(data_dir)) == 1


async def test_a_new_file_replaces_the_staged_one(client, data_dir):
    walk = await photo_step(client)
    before = staged(data_dir)
    await walk.post(action="zurueck")

    photo = {"ZAEHLER_FOTO": ("neu.jpg", marked_photo("anders"))}
    await walk.post({"ZAEHLER_NR": "1ESY1160523456"}, files=photo)

    after = staged(data_dir)
    assert len(after) == 1
    assert after != before


async def test_an_abandoned_session_loses_its_staged_file_at_expiry(
    client, clock, data_dir
):
    walk = await photo_step(client)
    hours = client.app[PORTAL].config.form_session_hours

    clock.advance(hours=hours, seconds=-1)
    await client.app[SCHEDULER].run_due()
    assert len(staged(data_dir)) == 1
    clock.advance(seconds=1)
    await client.app[SCHEDULER].run_due()

    assert staged(data_dir) == []
    await walk.post({"ZAEHLER_STAND": "012345,6"})
    assert walk.status == 403
    assert START_AGAIN in walk.html


async def test_staged_files_of_expired_sessions_go_at_the_next_start(
    aiohttp_client, config, clock, data_dir
):
    first = await aiohttp_client(create_app(config, clock))
    app = first.app
    await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], FORM, "t")
    await photo_step(first)
    await first.close()
    assert len(staged(data_dir)) == 1

    clock.advance(hours=config.form_session_hours, minutes=1)
    await aiohttp_client(create_app(config, clock))

    assert staged(data_dir) == []


async def test_a_file_of_the_wrong_type_is_refused_on_its_step(client, data_dir):
    walk = await Walk(client, PATH).start()
    fake = {"ZAEHLER_FOTO": ("zaehler.jpg", b"%PDF-1.7 not a photo\n" + b"x" * 100)}

    await walk.post({"ZAEHLER_NR": "1ESY1160523456"}, files=fake)

    assert walk.status == 422
    assert "Foto des Zählers: Wählen Sie eine Datei vom Typ JPEG oder PNG." in walk.html
    assert staged(data_dir) == []


async def test_step_titles_a_clerk_typed_are_shown_escaped(client):
    app = client.app
    text = FORM.replace("title: Foto", "title: <script>Foto</script>")
    await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], text, "t")

    walk = await Walk(client, PATH).start()

    assert progress_of(walk.html) == (
        "Schritt 1 von 2: &lt;script&gt;Foto&lt;/script&gt;"
    )
    assert "<script>" not in walk.html


async def test_the_state_key_and_staged_files_are_the_owners_alone(client, data_dir):
    await photo_step(client)

    assert len((data_dir / "portal" / "steps.secret").read_bytes()) == 32
    assert len(staged(data_dir)) == 1
    assert loose_modes(data_dir) == {}


async def test_a_state_of_another_form_is_refused(client):
    contract = await (await Walk(client).start()).through(CONTRACT_PAGES[:1])
    walk = await Walk(client, PATH).start()

    await walk.post({"ZAEHLER_NR": "1ESY1160523456"}, state=state_of(contract.html))

    assert walk.status == 403
    assert START_AGAIN in walk.html
