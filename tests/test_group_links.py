"""Secure links to forms with repeatable sections: a group's items pre-filled."""

import pytest

from app.backoffice.links import LinkError, LinkRequest
from app.keys import BACKOFFICE, CONFIG, LINK_OFFICE, PORTAL
from tests import api_support
from tests.admin_helpers import log_in_clerk, post
from tests.api_support import bearer, new_key
from tests.conftest import csrf_token, form_data, send, wait_until_taken
from tests.linkhelp import mailed_link, outbox_files
from tests.test_groups import FIRST, METERS, Page, meters, record_values, summary
from tests.test_link_versions import send_link_command

api = api_support.api
modwork_key_path = api_support.modwork_key_path

SLUG = "zaehlerstaende"
TWO = {"KUNDE_NR": "100234", "ZAEHLER_NR": ["M1", "M2"], "ZAEHLER_STAND": ["1", ""]}


async def group_link(client, values=None) -> str:
    wanted = LinkRequest("musterstadt", SLUG, "erika@beispiel.de", values or TWO)
    return await client.app[LINK_OFFICE].create(wanted, "test")


async def opened(client) -> Page:
    response = await client.get(await mailed_link(client))
    assert response.status == 200
    return Page(await response.text())


async def test_a_link_shows_the_groups_items_pre_filled_with_their_buttons(client):
    await group_link(client)
    page = await opened(client)
    assert page.inputs["items.2"] == "2"
    assert [page.inputs[f"ZAEHLER_NR.{n}"] for n in (1, 2)] == ["M1", "M2"]
    assert (page.inputs["ZAEHLER_STAND.1"], page.inputs["ZAEHLER_STAND.2"]) == (
        "1",
        "",
    )
    assert page.buttons == ["remove.2.1", "remove.2.2", "add.2"]
    assert [x for x in page.legends if x.startswith("Zähler")] == [
        "Zähler 1",
        "Zähler 2",
    ]


async def send_on_link(client, fields: dict):
    page = await client.get(await mailed_link(client))
    action = page.url.path
    data = form_data(csrf_token(await page.text()), fields)
    return await client.post(action, data=data)


async def test_the_customer_adds_an_item_on_the_link_and_nothing_is_stored(client):
    await group_link(client)
    fields = {**meters(("M1", "1"), ("M2", "2")), "group_action": "add.2"}
    response = await send_on_link(client, fields)
    page = Page(await response.text())
    assert response.status == 200
    assert (page.inputs["items.2"], page.inputs["ZAEHLER_NR.2"]) == ("3", "M2")
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_the_items_sent_through_a_link_reach_the_record_as_lists(client):
    link_id = await group_link(client)
    response = await send_on_link(client, meters(("M1", "1"), ("M2", "2,5")))
    assert response.status == 200, summary(await response.text())
    values = await record_values(client)
    assert (values["ZAEHLER_NR"], values["ZAEHLER_STAND"]) == (
        ["M1", "M2"],
        ["1", "2.5"],
    )
    [record] = await client.app[BACKOFFICE].store.records(None)
    assert record["link_id"] == link_id


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"KUNDE_NR": ["1"]}, "KUNDE_NR: Geben Sie einen Text an, keine Liste."),
        ({"ZAEHLER_NR": "M1"}, "ZAEHLER_NR: Geben Sie eine Liste mit einem Text je"),
        ({"ZAEHLER_NR": ["M1", 2]}, "ZAEHLER_NR: Geben Sie eine Liste mit einem Text"),
        (
            {"ZAEHLER_NR": ["M1", "M2"], "ZAEHLER_STAND": ["1"]},
            "ZAEHLER_NR: Die Listen von ZAEHLER_NR, ZAEHLER_STAND müssen gleich",
        ),
        ({"ZAEHLER_NR": ["M"] * 6}, "ZAEHLER_NR: Höchstens 5 × „Zähler“."),
        (
            {"ZAEHLER_NR": ["M1", "M2"], "ZAEHLER_STAND": ["1", "viel"]},
            "ZAEHLER_STAND[1]: Zähler 2: ",
        ),
        ({"ZAEHLER_FOTO": ["x.png"]}, "ZAEHLER_FOTO: Dateien lassen sich nicht"),
    ],
)
async def test_wrong_list_values_are_refused_naming_the_item(client, values, message):
    with pytest.raises(LinkError, match=message.replace("[", r"\[")):
        await group_link(client, values)
    assert await client.app[LINK_OFFICE].store.links(None) == []
    assert outbox_files(client.app[CONFIG].outbox_dir) == []


@pytest.mark.parametrize("kind", ["query", "order"])
async def test_queries_and_orders_on_a_form_with_groups_are_still_refused(client, kind):
    wanted = LinkRequest("musterstadt", SLUG, "erika@beispiel.de", TWO, kind=kind)
    with pytest.raises(LinkError, match="Rückfragen und Aufträge sind"):
        await client.app[LINK_OFFICE].create(wanted, "test")
    assert await client.app[LINK_OFFICE].store.links(None) == []


async def test_the_api_takes_arrays_for_group_fields(api):
    key = await new_key(api)
    body = {"form": SLUG, "email": "erika@beispiel.de", "values": TWO}
    response = await api.post("/api/v1/links", json=body, headers=bearer(key))
    assert response.status == 201, await response.text()
    link = await api.app[LINK_OFFICE].store.link((await response.json())["id"])
    assert link.prefill["values"]["ZAEHLER_NR"] == ["M1", "M2"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"ZAEHLER_NR": ["M1", "M2"], "ZAEHLER_STAND": ["1", "viel"]}, "[1]"),
        ({"ZAEHLER_NR": ["M1", 7]}, "[1]"),
        ({"ZAEHLER_NR": "M1"}, ""),
        ({"ZAEHLER_NR": {"a": "b"}}, ""),
    ],
)
async def test_the_api_names_the_wrong_entry_of_a_list(api, values, field):
    key = await new_key(api)
    body = {"form": SLUG, "email": "erika@beispiel.de", "values": values}
    response = await api.post("/api/v1/links", json=body, headers=bearer(key))
    assert response.status == 422
    names = [e["field"] for e in (await response.json())["errors"]]
    wrong = next(iter(n for n in values if n != "ZAEHLER_NR" or len(values) == 1))
    assert names == [f"values.{wrong}{field}"]
    assert await api.app[LINK_OFFICE].store.links(None) == []


async def test_send_link_takes_a_yaml_list_for_a_group_field(client, tmp_path):
    values = tmp_path / "werte.yaml"
    values.write_text("KUNDE_NR: '100234'\nZAEHLER_NR: [M1, M2]\n", encoding="utf-8")
    returncode, stderr = await send_link_command(client.app[CONFIG].data, values, SLUG)
    assert returncode == 0, stderr
    [link] = await client.app[LINK_OFFICE].store.links(None)
    assert link.prefill["values"]["ZAEHLER_NR"] == ["M1", "M2"]


async def test_send_link_refuses_a_list_for_a_single_field(client, tmp_path):
    values = tmp_path / "werte.yaml"
    values.write_text("KUNDE_NR: [1, 2]\n", encoding="utf-8")
    returncode, stderr = await send_link_command(client.app[CONFIG].data, values, SLUG)
    assert returncode == 1
    assert "KUNDE_NR: Geben Sie einen Text an, keine Liste." in stderr
    assert await client.app[LINK_OFFICE].store.links(None) == []


NEW_LINK = "/admin/links/new"


async def test_the_admin_page_shows_a_groups_items_and_adds_one(client):
    token = await log_in_clerk(client)
    page = Page(await (await client.get(f"{NEW_LINK}?form=musterstadt/{SLUG}")).text())
    assert (page.inputs["items.2"], page.inputs["ZAEHLER_NR.1"]) == ("1", "")
    assert page.buttons == ["add.2"]
    fields = {"form": f"musterstadt/{SLUG}", "recipient": "erika@beispiel.de"}
    fields |= {"items.2": "1", "ZAEHLER_NR.1": "M1", "group_action": "add.2"}
    response = await post(client, NEW_LINK, token, fields)
    page = Page(await response.text())
    assert response.status == 200
    assert (page.inputs["items.2"], page.inputs["ZAEHLER_NR.1"]) == ("2", "M1")
    assert await client.app[LINK_OFFICE].store.links(None) == []


async def test_the_admin_page_sends_a_groups_items_as_lists(client):
    token = await log_in_clerk(client)
    fields = {"form": f"musterstadt/{SLUG}", "recipient": "erika@beispiel.de"}
    fields |= {"items.2": "2", "ZAEHLER_NR.1": "M1", "ZAEHLER_NR.2": "M2"}
    response = await post(client, NEW_LINK, token, fields)
    assert response.status == 303
    [link] = await client.app[LINK_OFFICE].store.links(None)
    assert link.prefill["values"] == {"ZAEHLER_NR": ["M1", "M2"]}


async def test_the_admin_page_refuses_more_items_than_the_maximum(client):
    token = await log_in_clerk(client)
    fields = {"form": f"musterstadt/{SLUG}", "recipient": "erika@beispiel.de"}
    fields |= {"items.2": "6"} | {f"ZAEHLER_NR.{n}": f"M{n}" for n in range(1, 7)}
    response = await post(client, NEW_LINK, token, fields)
    assert response.status == 422
    assert "Höchstens 5 × „Zähler“." in await response.text()
    assert await client.app[LINK_OFFICE].store.links(None) == []


async def test_the_admin_page_names_a_wrong_item(client):
    token = await log_in_clerk(client)
    fields = {"form": f"musterstadt/{SLUG}", "recipient": "erika@beispiel.de"}
    fields |= {"items.2": "2", "ZAEHLER_STAND.1": "1", "ZAEHLER_STAND.2": "viel"}
    response = await post(client, NEW_LINK, token, fields)
    html = await response.text()
    assert response.status == 422
    assert "ZAEHLER_STAND[1]: Zähler 2:" in html
    assert Page(html).inputs["ZAEHLER_STAND.2"] == "viel"


async def test_the_query_page_of_a_record_with_groups_refuses_up_front(client):
    assert (await send(client, METERS, meters(("M1", "1")))).status == 200
    await wait_until_taken(client.app)
    [record] = await client.app[BACKOFFICE].store.records(None)
    await log_in_clerk(client)
    response = await client.get(f"/admin/records/{record['id']}/query")
    html = await response.text()
    assert "Zu diesem Beleg ist keine Rückfrage möglich." in html
    assert "['M1']" not in html
    assert 'name="marked"' not in html
    assert FIRST["KUNDE_NR"] not in html
