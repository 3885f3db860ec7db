"""Conditional fields: the rule in the file, on the server, in the page."""

import json

import pytest

from app.application import create_app
from app.commands import publish_definition
from app.forms import editor
from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.conditions import conditions_css
from app.forms.definition import DefinitionError, FormDefinition, parse_definition
from app.forms.source import definition_yaml
from app.forms.validation import validate
from app.keys import BACKOFFICE, PORTAL, TENANTS
from tests.conftest import send, wait_until_taken

FORM = """\
tenant: musterstadt
slug: ablesung
title: Ablesung
record_type: ZAEHLERSTAND
sections:
  - title: Zähler
    fields:
      - field: ZAEHLER_ABLESEGRUND
        required: "true"
      - field: ABNST_STRASSE
        required: "true"
        show_if: {field: ZAEHLER_ABLESEGRUND, value: "02"}
      - field: DATENSCHUTZ_KENNTNIS
      - field: KUNDE_EMAIL
        required: "true"
        show_if: {field: DATENSCHUTZ_KENNTNIS, value: "ja"}
"""


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_PATH)


@pytest.fixture(scope="module")
def form(catalog):
    return parse_definition(FORM, catalog)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('value: "02"}', 'value: "09"}', "line 12: '09' is not a value of"),
        (
            "field: ZAEHLER_ABLESEGRUND, value",
            "field: KUNDE_EMAIL, value",
            "line 12: show_if needs a choice or consent field before ABNST_STRASSE",
        ),
        (
            "field: DATENSCHUTZ_KENNTNIS, value",
            "field: ABNST_STRASSE, value",
            "line 16: show_if needs a choice or consent field before KUNDE_EMAIL",
        ),
    ],
)
def test_a_condition_must_name_an_earlier_field_and_one_of_its_values(
    catalog, old, new, message
):
    with pytest.raises(DefinitionError) as refused:
        parse_definition(FORM.replace(old, new), catalog)
    assert str(refused.value).startswith(message)


def test_a_file_field_cannot_be_conditional(catalog):
    text = (
        FORM
        + "      - field: ZAEHLER_FOTO\n"
        + "        show_if: {field: DATENSCHUTZ_KENNTNIS, value: ja}\n"
    )
    with pytest.raises(DefinitionError) as refused:
        parse_definition(text, catalog)
    assert (
        str(refused.value) == "line 18: file field ZAEHLER_FOTO cannot be conditional"
    )


@pytest.mark.parametrize(
    ("values", "kept", "errors"),
    [
        (
            {"ZAEHLER_ABLESEGRUND": "01", "ABNST_STRASSE": "Weg 1"},
            ["ZAEHLER_ABLESEGRUND", "DATENSCHUTZ_KENNTNIS"],
            [],
        ),
        (
            {"ZAEHLER_ABLESEGRUND": "02"},
            ["ZAEHLER_ABLESEGRUND", "ABNST_STRASSE", "DATENSCHUTZ_KENNTNIS"],
            ["ABNST_STRASSE"],
        ),
        (
            {"ZAEHLER_ABLESEGRUND": "01", "DATENSCHUTZ_KENNTNIS": "ja"},
            ["ZAEHLER_ABLESEGRUND", "DATENSCHUTZ_KENNTNIS", "KUNDE_EMAIL"],
            ["KUNDE_EMAIL"],
        ),
    ],
)
def test_a_field_whose_condition_fails_is_neither_required_nor_kept(
    form, values, kept, errors
):
    result = validate(form, values, {})
    assert (list(result.values), list(result.errors)) == (kept, errors)


def test_the_stylesheet_hides_each_conditional_field_until_its_value_is_chosen(form):
    assert conditions_css(form).splitlines()[0] == (
        '.form:not(:has(input[name="ZAEHLER_ABLESEGRUND"][value="02"]:checked, '
        'select[name="ZAEHLER_ABLESEGRUND"] option[value="02"]:checked)) '
        "#when-ABNST_STRASSE { display: none; }"
    )


def test_a_condition_survives_storing_and_exporting(form, catalog):
    stored = FormDefinition.from_dict(json.loads(json.dumps(form.to_dict())), catalog)
    again = parse_definition(definition_yaml(stored, catalog), catalog)
    assert again.field("ABNST_STRASSE").show_if_field == "ZAEHLER_ABLESEGRUND"
    assert again == form


def test_a_version_stored_before_conditions_still_loads(form, catalog):
    data = form.to_dict()
    for section in data["sections"]:
        for field in section["fields"]:
            del field["show_if_field"], field["show_if_value"]
    old = FormDefinition.from_dict(data, catalog)
    assert [f.show_if_field for f in old.fields] == ["", "", "", ""]


def test_moving_a_field_above_its_condition_drops_the_condition(form, catalog):
    page = {"title": [form.title], "intro": [""], "section-0-title": ["Zähler"]}
    for field in form.fields:
        page[f"{field.name}-label"] = [field.label]
        page[f"{field.name}-required"] = ["ja"] if field.required else []
        page[f"{field.name}-choices"] = [editor.choices_text(field.choices)]
        page[f"{field.name}-show_if"] = [editor.condition_of(field)]
    page["action"] = ["up:ABNST_STRASSE"]
    moved = editor.apply(form, editor.Posted(page), catalog, 10_000_000)
    assert moved.field("ABNST_STRASSE").show_if_field == ""
    assert moved.field("KUNDE_EMAIL").show_if_field == "DATENSCHUTZ_KENNTNIS"


@pytest.fixture
async def client(aiohttp_client, config):
    client = await aiohttp_client(create_app(config))
    app = client.app
    await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], FORM, "t")
    return client


async def test_the_page_notes_the_condition_and_links_its_stylesheet(client):
    page = await (await client.get("/musterstadt/ablesung")).text()
    assert '<div class="conditional" id="when-ABNST_STRASSE">' in page
    assert (
        "Nur nötig, wenn Sie bei „Anlass der Ablesung“ „Einzug“ gewählt haben."
    ) in page
    url = "/static/tenant/musterstadt/forms/ablesung/1/conditions.css"
    assert f'<link rel="stylesheet" href="{url}">' in page
    css = await client.get(url)
    assert (css.status, css.content_type) == (200, "text/css")


async def test_a_hidden_field_sent_anyway_does_not_reach_the_record(client):
    fields = {"ZAEHLER_ABLESEGRUND": "01", "ABNST_STRASSE": "Geheimweg 1"}
    response = await send(client, "/musterstadt/ablesung", fields)
    assert response.status == 200
    await wait_until_taken(client.app)
    [record] = await client.app[BACKOFFICE].store.records(None)
    assert json.loads(record["field_values"]) == {
        "ZAEHLER_ABLESEGRUND": "01",
        "DATENSCHUTZ_KENNTNIS": "",
    }
