"""Repeatable groups: several meters in one send, their values as lists."""

import json
from html import unescape
from html.parser import HTMLParser

import pytest

from app.backoffice.links import LinkError, LinkRequest
from app.keys import BACKOFFICE, CONFIG, LINK_OFFICE, OUTBOX, PORTAL
from tests.admin_helpers import ADMIN, log_in_clerk, post
from tests.conftest import (
    ADMIN_PASSWORD,
    add_clerk,
    form_data,
    log_in,
    open_form,
    send,
    wait_until_taken,
)
from tests.images import jpeg_photo, png_photo
from tests.linkhelp import wait_for_mails
from tests.test_submission import portal_files

METERS = "/musterstadt/zaehlerstaende"
FIRST = {"KUNDE_NR": "100234", "ZAEHLER_ABLESEDATUM": "2026-12-01"}


def meters(*readings: tuple[str, str]) -> dict[str, str]:
    """Return a send with one item per (meter number, reading)."""
    fields = {**FIRST, "items.2": str(len(readings))}
    for number, (meter, reading) in enumerate(readings, start=1):
        fields[f"ZAEHLER_NR.{number}"] = meter
        fields[f"ZAEHLER_STAND.{number}"] = reading
    return fields


async def record_values(client) -> dict:
    await wait_until_taken(client.app)
    [record] = await client.app[BACKOFFICE].store.records(None)
    return json.loads(record["field_values"])


class Page(HTMLParser):
    """What a test reads of a form page: inputs, buttons, legends, errors."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inputs: dict[str, str] = {}
        self.buttons: list[str] = []
        self.links: list[str] = []
        self.legends: list[str] = []
        self.errors: list[str] = []
        self._text: list[str] | None = None
        self._in_summary = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") != "file" and "name" in attrs:
            self.inputs[attrs["name"]] = attrs.get("value") or ""
        elif tag == "button" and attrs.get("value"):
            self.buttons.append(attrs["value"])
        elif tag == "ul" and "error-summary__list" in attrs.get("class", ""):
            self._in_summary = True
        elif tag == "a" and self._in_summary:
            self.links.append(attrs["href"])
        if tag in ("legend", "li") and (tag == "legend" or self._in_summary):
            self._text = []

    def handle_endtag(self, tag):
        if tag == "ul":
            self._in_summary = False
        if tag in ("legend", "li") and self._text is not None:
            text = " ".join("".join(self._text).split())
            (self.legends if tag == "legend" else self.errors).append(text)
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def shown(html: str, name: str) -> str | None:
    return Page(html).inputs.get(name)


def summary(html: str) -> list[str]:
    return Page(html).errors


async def test_empty_page_shows_the_minimum_of_one_item(client):
    shown_page = Page(await (await client.get(METERS)).text())
    assert [x for x in shown_page.legends if x.startswith("Zähler")] == ["Zähler 1"]
    assert shown_page.inputs["items.2"] == "1"
    assert shown_page.inputs["ZAEHLER_NR.1"] == ""
    assert shown_page.buttons == ["add.2"]


@pytest.mark.parametrize("count", [1, 3, 5])
async def test_items_reach_the_record_as_lists(client, count):
    readings = [(f"1ESY11605234{n}", f"01234{n},5") for n in range(count)]
    response = await send(client, METERS, meters(*readings))
    assert response.status == 200, summary(await response.text())
    values = await record_values(client)
    assert values["ZAEHLER_NR"] == [meter for meter, _ in readings]
    assert values["ZAEHLER_STAND"] == [r.replace(",", ".") for _, r in readings]
    assert values["ZAEHLER_FOTO"] == [None] * count
    assert values["KUNDE_NR"] == "100234"


async def test_more_items_than_max_are_refused(client):
    readings = [(f"1ESY11605234{n}", "1") for n in range(6)]
    response = await send(client, METERS, meters(*readings))
    assert response.status == 422
    assert summary(await response.text()) == [
        "Sie können höchstens 5 × „Zähler“ angeben."
    ]
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_fewer_items_than_min_are_refused(client):
    response = await send(client, METERS, {**meters(), "items.2": "0"})
    assert response.status == 422
    assert summary(await response.text()) == ["Geben Sie mindestens 1 × „Zähler“ an."]


async def test_an_error_in_item_two_names_item_two(client):
    fields = meters(("1ESY1160523456", "012345"), ("1ESY1160523457", ""))
    response = await send(client, METERS, fields)
    html = await response.text()
    assert response.status == 422
    assert summary(html) == ["Zähler 2: Geben Sie den Zählerstand an."]
    assert Page(html).links == ["#f-ZAEHLER_STAND.2"]
    assert shown(html, "ZAEHLER_NR.2") == "1ESY1160523457"
    assert await client.app[PORTAL].store.submission_ids() == set()


async def press(client, fields: dict, action: str, files=None):
    token = await open_form(client, METERS)
    data = form_data(token, {**fields, "group_action": action}, files)
    return await client.post(METERS, data=data)


async def test_adding_an_item_keeps_the_values_and_stores_nothing(client):
    response = await press(client, meters(("1ESY1160523456", "012345")), "add.2")
    html = await response.text()
    assert response.status == 200
    assert shown(html, "items.2") == "2"
    assert shown(html, "ZAEHLER_NR.1") == "1ESY1160523456"
    assert shown(html, "ZAEHLER_NR.2") == ""
    assert shown(html, "KUNDE_NR") == "100234"
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_removing_an_item_moves_the_later_ones_up(client):
    fields = meters(("AAA1", "1"), ("BBB2", "2"), ("CCC3", "3"))
    response = await press(client, fields, "remove.2.2")
    html = await response.text()
    assert response.status == 200
    assert shown(html, "items.2") == "2"
    assert [shown(html, f"ZAEHLER_NR.{n}") for n in (1, 2, 3)] == [
        "AAA1",
        "CCC3",
        None,
    ]
    assert shown(html, "ZAEHLER_STAND.2") == "3"


async def test_adding_beyond_max_is_refused_with_a_message(client):
    readings = [(f"M{n}", "1") for n in range(5)]
    response = await press(client, meters(*readings), "add.2")
    html = await response.text()
    assert response.status == 422
    assert summary(html) == ["Sie können höchstens 5 × „Zähler“ angeben."]
    assert shown(html, "items.2") == "5"
    assert "add.2" not in Page(html).buttons


async def test_removing_the_last_item_is_refused_with_a_message(client):
    response = await press(client, meters(("M1", "1")), "remove.2.1")
    assert response.status == 422
    assert summary(await response.text()) == ["Geben Sie mindestens 1 × „Zähler“ an."]


@pytest.mark.parametrize(
    "action", ["add.9", "remove.2.7", "drop.2", "add.1", "remove.2"]
)
async def test_a_forged_group_action_is_refused_and_stores_nothing(client, action):
    fields = meters(("M1", "1"), ("M2", "2"))
    response = await press(client, fields, action)
    assert response.status == 400
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_a_round_trip_with_a_file_asks_for_it_again(client):
    photo = {"ZAEHLER_FOTO.1": ("z.jpg", jpeg_photo())}
    response = await press(client, meters(("M1", "1")), "add.2", photo)
    text = " ".join(unescape(await response.text()).split())
    assert response.status == 200
    assert "wenn Sie einen Eintrag hinzufügen oder entfernen" in text
    assert portal_files(client) == []
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_a_file_per_item_reaches_the_record_at_its_item(client):
    files = {
        "ZAEHLER_FOTO.1": ("erster.jpg", jpeg_photo()),
        "ZAEHLER_FOTO.3": ("dritter.png", png_photo()),
    }
    fields = meters(("M1", "1"), ("M2", "2"), ("M3", "3"))
    response = await send(client, METERS, fields, files)
    assert response.status == 200, summary(await response.text())
    values = await record_values(client)
    store = client.app[BACKOFFICE].store
    [record] = await store.records(None)
    by_id = {a["id"]: a["filename"] for a in await store.attachments(record["id"])}
    first, second, third = values["ZAEHLER_FOTO"]
    assert (by_id[first], second, by_id[third]) == ("erster.jpg", None, "dritter.png")


async def test_a_wrong_file_type_names_its_item(client):
    files = {"ZAEHLER_FOTO.2": ("brief.pdf", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n")}
    fields = meters(("M1", "1"), ("M2", "2"))
    response = await send(client, METERS, fields, files)
    assert response.status == 422
    assert summary(await response.text()) == [
        "Zähler 2: Foto des Zählers: Wählen Sie eine Datei vom Typ JPEG oder PNG."
    ]


async def test_the_record_page_shows_each_item_with_its_file(client):
    files = {"ZAEHLER_FOTO.2": ("<b>zwei</b>.jpg", jpeg_photo())}
    fields = meters(("<i>M1</i>", "1"), ("M2", "2"))
    assert (await send(client, METERS, fields, files)).status == 200
    await wait_until_taken(client.app)
    [record] = await client.app[BACKOFFICE].store.records(None)
    await add_clerk(client.app, "erika", ADMIN_PASSWORD)
    await log_in(client, "erika", ADMIN_PASSWORD)
    html = await (await client.get(f"/admin/records/{record['id']}")).text()
    text = " ".join(html.split())
    assert "<li>Zähler 1: &lt;i&gt;M1&lt;/i&gt;</li>" in text
    assert "<li>Zähler 2: M2</li>" in text
    assert '<li>Zähler 1: <span class="muted">keine Angabe</span></li>' in text
    assert ">&lt;b&gt;zwei&lt;/b&gt;.jpg</a></li>" in text
    assert "Foto des Zählers (Zähler 2):" in text


async def test_the_confirmation_lists_each_item(client):
    fields = {**meters(("M1", "1"), ("M2", "2,5")), "KUNDE_EMAIL": "erika@beispiel.de"}
    assert (await send(client, METERS, fields)).status == 200
    await wait_until_taken(client.app)
    [mail] = await wait_for_mails(client.app[CONFIG].outbox_dir, 1)
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Zählernummer (Zähler 1): M1\nZählernummer (Zähler 2): M2\n" in text
    assert "Zählerstand (Zähler 2): 2.5\n" in text


async def test_the_preview_adds_an_item_without_a_test_send(client):
    token = await log_in_clerk(client)
    path = f"{ADMIN}/zaehlerstaende/preview/1"
    data = form_data(token, {**meters(("M1", "1")), "group_action": "add.2"})
    response = await client.post(path, data=data)
    html = await response.text()
    assert response.status == 200
    assert (shown(html, "items.2"), shown(html, "ZAEHLER_NR.1")) == ("2", "M1")
    assert await client.app[PORTAL].store.submission_ids() == set()


@pytest.mark.parametrize("kind", ["query", "order"])
async def test_a_query_or_order_on_a_form_with_groups_is_refused(client, kind):
    wanted = LinkRequest(
        "musterstadt", "zaehlerstaende", "erika@beispiel.de", {}, kind=kind
    )
    with pytest.raises(LinkError, match="wiederholbare Abschnitte"):
        await client.app[LINK_OFFICE].create(wanted, "test")
    assert await client.app[OUTBOX].store.waiting() == []


async def test_a_query_on_a_record_with_groups_is_refused_on_its_page(client):
    assert (await send(client, METERS, meters(("M1", "1")))).status == 200
    await wait_until_taken(client.app)
    [record] = await client.app[BACKOFFICE].store.records(None)
    token = await log_in_clerk(client)
    fields = {"marked": "ZAEHLER_NR", "message": "Bitte prüfen.", "recipient": ""}
    path = f"/admin/records/{record['id']}/query"
    response = await post(client, path, token, fields)
    assert response.status == 422
    assert "wiederholbare Abschnitte" in " ".join((await response.text()).split())


async def test_a_file_for_an_item_the_page_did_not_show_is_refused(client):
    files = {"ZAEHLER_FOTO.3": ("z.jpg", jpeg_photo())}
    response = await send(client, METERS, meters(("M1", "1")), files)
    assert response.status == 422
    assert summary(await response.text()) == [
        "Zähler 3: Zu dieser Datei gibt es keinen Eintrag."
    ]
    assert await client.app[PORTAL].store.submission_ids() == set()
    assert portal_files(client) == []


async def test_a_group_field_sent_under_its_bare_name_is_not_kept(client):
    fields = {**meters(("M1", "1")), "ZAEHLER_NR": "FREMD"}
    files = {"ZAEHLER_FOTO": ("z.jpg", jpeg_photo())}
    assert (await send(client, METERS, fields, files)).status == 200
    values = await record_values(client)
    [record] = await client.app[BACKOFFICE].store.records(None)
    assert (values["ZAEHLER_NR"], values["ZAEHLER_FOTO"]) == (["M1"], [None])
    assert await client.app[BACKOFFICE].store.attachments(record["id"]) == []
