"""The admin form pages over the real app: build, version, restore, delete."""

import json
import re

import pytest

from app.backoffice.forms import FORMS
from tests.admin_helpers import ADMIN, log_in_clerk, page_text, post

NEW = {
    "tenant": "musterstadt",
    "record_type": "ZAEHLERSTAND",
    "slug": "umzug",
    "title": "Umzug melden",
}
UMZUG = f"{ADMIN}/umzug"
EDIT = f"{UMZUG}/edit"
ROW = re.compile(r'<a href="/admin/forms/(\w+)/([\w-]+)">')


@pytest.fixture
async def token(client) -> str:
    return await log_in_clerk(client)


async def editor_page(client, **fields) -> dict:
    """Return the editor's inputs as sent unchanged, with some changed."""
    html = await page_text(client, EDIT)
    sent = dict(
        re.findall(
            r'<input class="input" id="f-[^"]+" name="([^"]+)"\s+'
            r'value="([^"]*)"',
            html,
        )
    )
    sent.update(
        re.findall(
            r'<textarea class="textarea" id="f-[^"]+" name="([^"]+)"'
            r"[^>]*>([^<]*)</textarea>",
            html,
        )
    )
    ticked = r'name="([^"]+-(?:required|repeat))"\s+value="ja" checked'
    sent.update((name, "ja") for name in re.findall(ticked, html))
    for name, options in re.findall(
        r'name="([^"]+-show_if)">(.*?)</select>', html, re.S
    ):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        sent[name] = chosen.group(1) if chosen else ""
    sent["base"] = re.search(r'name="base" value="(\d+)"', html).group(1)
    return {**sent, **{k: v for k, v in fields.items()}}


async def new_form(client, token, *fields: str) -> None:
    """Create the umzug form and add catalog fields to its first section."""
    response = await post(client, "/admin/forms/new", token, NEW)
    assert response.status == 303, await response.text()
    for name in fields:
        page = await editor_page(client, action="add:0", **{"add-0": name})
        assert (await post(client, EDIT, token, page)).status == 303


async def newest(client):
    desk = client.app[FORMS]
    form = await desk.form("musterstadt", "umzug")
    return form, await desk.version(form, form.last_version)


async def test_a_new_form_starts_as_an_empty_draft_in_the_editor(client, token):
    response = await post(client, "/admin/forms/new", token, NEW)
    assert response.headers["Location"] == f"{EDIT}?done=created"
    page = await page_text(client, EDIT)
    assert "Dieser Abschnitt hat noch keine Felder." in page
    assert "Das Formular hat noch keine Felder." in page
    form, definition = await newest(client)
    assert (form.last_version, definition.title) == (1, "Umzug melden")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"slug": "Umzug!"}, "Die Adresse besteht aus 2 bis 60 Kleinbuchstaben"),
        ({"slug": "sepa-mandat"}, "Die Adresse „sepa-mandat“ hat bereits ein"),
        ({"record_type": "NICHTS"}, "Wählen Sie eine Belegart."),
        ({"title": " "}, "Geben Sie einen Titel an."),
        ({"tenant": "anderswo"}, "Wählen Sie einen Mandanten."),
    ],
)
async def test_a_new_form_is_refused_with_the_reason(client, token, changes, message):
    response = await post(client, "/admin/forms/new", token, {**NEW, **changes})
    assert response.status == 422
    assert message in await response.text()


async def test_every_save_is_a_new_version_with_who_and_when(client, token):
    await new_form(client, token, "ZAEHLER_NR", "ZAEHLER_STAND")
    desk = client.app[FORMS]
    form, definition = await newest(client)
    versions = await desk.store.versions(form.id)
    assert [(v.version, v.created_by, v.note) for v in versions] == [
        (3, "anna", ""),
        (2, "anna", ""),
        (1, "anna", "Neu angelegt"),
    ]
    assert [f.name for f in definition.fields] == ["ZAEHLER_NR", "ZAEHLER_STAND"]
    assert "Version 3</a>" in await page_text(client, UMZUG)


async def test_the_editor_moves_and_configures_fields(client, token):
    await new_form(client, token, "ZAEHLER_NR", "ZAEHLER_STAND")
    page = await editor_page(
        client,
        action="up:ZAEHLER_STAND",
        **{"ZAEHLER_STAND-label": "Stand heute", "ZAEHLER_NR-help": "Auf dem Zähler"},
    )
    assert (await post(client, EDIT, token, page)).status == 303
    _, definition = await newest(client)
    assert [f.name for f in definition.fields] == ["ZAEHLER_STAND", "ZAEHLER_NR"]
    assert definition.field("ZAEHLER_STAND").label == "Stand heute"
    assert definition.field("ZAEHLER_NR").help == "Auf dem Zähler"


async def test_an_unchanged_save_makes_no_version(client, token):
    await new_form(client, token, "ZAEHLER_NR")
    assert (await post(client, EDIT, token, await editor_page(client))).status == 303
    form, _ = await newest(client)
    assert form.last_version == 2


async def test_a_refused_edit_keeps_what_was_typed_and_saves_nothing(client, token):
    await new_form(client, token, "ZAEHLER_FOTO")
    page = await editor_page(client, title="Umzug neu", **{"ZAEHLER_FOTO-max_mb": "50"})
    response = await post(client, EDIT, token, page)
    assert response.status == 422
    text = await response.text()
    assert "Geben Sie eine Größe über 0 und höchstens 10 MB an." in text
    assert 'value="Umzug neu"' in text
    assert (await newest(client))[0].last_version == 2


async def test_a_save_on_an_older_version_is_refused(client, token):
    await new_form(client, token, "ZAEHLER_NR")
    page = await editor_page(client, base="1")
    response = await post(client, EDIT, token, page)
    assert response.status == 409
    assert "Inzwischen wurde Version 2 gespeichert." in await response.text()


async def test_an_earlier_version_comes_back_as_the_newest_draft(client, token):
    await new_form(client, token, "ZAEHLER_NR", "ZAEHLER_STAND")
    response = await post(client, f"{UMZUG}/versions/2/restore", token)
    assert response.status == 303
    form, definition = await newest(client)
    desk = client.app[FORMS]
    assert (form.last_version, definition) == (4, await desk.version(form, 2))
    [latest, *_] = await desk.store.versions(form.id)
    assert latest.note == "Wiederhergestellt aus Version 2"


async def test_compare_shows_what_was_added_between_versions(client, token):
    await new_form(client, token, "ZAEHLER_NR", "ZAEHLER_STAND")
    page = await page_text(client, f"{UMZUG}/compare?a=2&b=3")
    row = re.search(r'<tr class="change change--added">(.*?)</tr>', page, re.S)
    cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row.group(1))
    assert cells == [
        "ZAEHLER_STAND",
        "hinzugefügt",
        "–",
        "Zählerstand, Abschnitt „Ihre Angaben“",
    ]


async def test_a_deleted_form_is_offline_at_once_and_comes_back_offline(client, token):
    assert (await client.get("/musterstadt/sepa-mandat")).status == 200
    await post(client, f"{ADMIN}/sepa-mandat/delete", token)
    assert (await client.get("/musterstadt/sepa-mandat")).status == 404
    assert "sepa-mandat" not in await page_text(client, "/admin/forms")
    assert "sepa-mandat" in await page_text(client, "/admin/forms?deleted=1")
    await post(client, f"{ADMIN}/sepa-mandat/undelete", token)
    page = await page_text(client, f"{ADMIN}/sepa-mandat")
    assert 'class="status state--ended">Beendet</span>' in page
    assert (await client.get("/musterstadt/sepa-mandat")).status == 404


async def test_a_restored_form_can_be_published_again(client, token):
    await post(client, f"{ADMIN}/sepa-mandat/delete", token)
    await post(client, f"{ADMIN}/sepa-mandat/undelete", token)
    response = await post(
        client, f"{ADMIN}/sepa-mandat/publish", token, {"version": "1"}
    )
    assert response.status == 303
    assert (await client.get("/musterstadt/sepa-mandat")).status == 200


async def test_a_version_without_fields_cannot_go_online(client, token):
    await new_form(client, token, "ZAEHLER_NR")
    bad = await post(client, f"{UMZUG}/publish", token, {"version": "1"})
    assert bad.status == 422
    assert "Das Formular hat noch keine Felder." in await bad.text()
    good = await post(client, f"{UMZUG}/publish", token, {"version": "2"})
    assert good.status == 303
    assert (await client.get("/musterstadt/umzug")).status == 200


@pytest.mark.parametrize(
    "path",
    [f"{ADMIN}/sepa-mandat", f"{ADMIN}/sepa-mandat/edit", f"{ADMIN}/nichts"],
)
async def test_a_clerk_sees_only_the_forms_of_its_tenants(client, path):
    await log_in_clerk(client, "nora", ["nordstadt"])
    assert (await client.get(path)).status == 404
    assert ROW.findall(await page_text(client, "/admin/forms")) == []


@pytest.mark.parametrize(
    "path", ["/publish", "/end", "/delete", "/undelete", "/versions/1/restore", "/edit"]
)
async def test_every_post_needs_the_sessions_token(client, token, path):
    response = await post(client, f"{ADMIN}/sepa-mandat{path}", "falsch", {})
    assert response.status == 403
    desk = client.app[FORMS]
    form = await desk.form("musterstadt", "sepa-mandat")
    assert (form.last_version, form.deleted_at) == (1, None)
    assert len(await desk.store.events(form.id)) == 3


async def test_typed_labels_are_shown_escaped_and_never_run_as_templates(client, token):
    await new_form(client, token, "ZAEHLER_NR")
    label = '<script>alert("x")</script> {{ 7 * 7 }}'
    page = await editor_page(client, **{"ZAEHLER_NR-label": label})
    await post(client, EDIT, token, page)
    await post(client, f"{UMZUG}/publish", token, {"version": "3"})
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; {{ 7 * 7 }}"
    for path in ("/musterstadt/umzug", f"{UMZUG}/versions/3", EDIT):
        html = await page_text(client, path)
        assert escaped in html and "<script>" not in html
    stored = await client.app[FORMS].store.version((await newest(client))[0].id, 3)
    assert json.loads(stored.definition)["sections"][0]["fields"][0]["label"] == label
