"""Repeatable sections in the editor: the rule's inputs, refusals, round trips."""

import dataclasses

import pytest

from app.backoffice.forms import FORMS
from app.commands import export_text, publish_definition
from app.forms import group_editor
from app.forms.definition import (
    DefinitionError,
    FormDefinition,
    load_definition_file,
    parse_definition,
)
from app.forms.editor import EditRefused
from app.forms.groups import REFUSED_NAMES, REFUSED_TYPES, Repeat
from app.forms.source import definition_yaml
from app.keys import BACKOFFICE, PORTAL, TENANTS
from tests.admin_helpers import log_in_clerk, page_text, post
from tests.test_conditions import FORM as CONDITIONS
from tests.test_editor import DEMO_FORMS, catalog, meter
from tests.test_form_pages import EDIT, UMZUG, editor_page, new_form, newest
from tests.test_groups import Page
from tests.test_step_editor import apply

__all__ = ["catalog", "meter"]


def load(name: str, catalog) -> FormDefinition:
    return load_definition_file(DEMO_FORMS / f"{name}.yaml", catalog)


def split(form: FormDefinition, at: int, end: int | None = None) -> FormDefinition:
    """Return a one-section form as two sections, its fields cut at `at`."""
    [section] = form.sections
    first, rest = section.fields[:at], section.fields[at:end]
    return dataclasses.replace(
        form,
        sections=(
            dataclasses.replace(section, fields=first),
            dataclasses.replace(section, title="Rest", fields=rest),
        ),
    )


def ticked(section: int, low="1", high="3", item="Zähler", **more) -> dict:
    """Return the inputs of a section's rule as a clerk fills them in."""
    key = f"section-{section}-repeat"
    inputs = {key: "ja", f"{key}_min": low, f"{key}_max": high, f"{key}_item": item}
    return inputs | {f"{key}_{name}": text for name, text in more.items()}


def refused(form, catalog, **changes) -> dict[str, str]:
    with pytest.raises(EditRefused) as refusal:
        apply(form, catalog, **changes)
    return refusal.value.errors


def test_ticking_wiederholbar_makes_the_section_a_group(meter, catalog):
    edited = apply(meter, catalog, **ticked(1, "2", "4", "Zählerstand"))

    assert edited.sections[1].repeat == Repeat(
        2, 4, "Zählerstand", "Zählerstand hinzufügen", "Zählerstand entfernen"
    )
    assert [s.repeat for s in edited.sections[::2]] == [None, None]


def test_typed_button_texts_are_kept(meter, catalog):
    texts = {"add": "Weitere Messstelle hinzufügen", "remove": "Diese entfernen"}
    edited = apply(meter, catalog, **ticked(1, item="Messstelle", **texts))

    rule = edited.sections[1].repeat
    assert (rule.add_label, rule.remove_label) == tuple(texts.values())


def test_an_unchanged_page_keeps_the_rule_and_unticking_drops_it(catalog):
    meters = load("zaehlerstaende", catalog)

    assert apply(meters, catalog) == meters
    assert apply(meters, catalog, **{"section-1-repeat": ""}).sections[1].repeat is None


def test_button_texts_that_followed_the_item_follow_a_new_item(catalog):
    meters = load("zaehlerstaende", catalog)
    plain = apply(meters, catalog, **ticked(1, item="Zähler", add="", remove=""))
    own = apply(meters, catalog, **{"section-1-repeat_item": "Messstelle"})
    renamed = apply(plain, catalog, **{"section-1-repeat_item": "Messstelle"})

    assert plain.sections[1].repeat.add_label == "Zähler hinzufügen"
    assert renamed.sections[1].repeat.add_label == "Messstelle hinzufügen"
    # The demo's texts are the ones stored before texts could be set.
    assert own.sections[1].repeat.remove_label == "Messstelle entfernen"


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            ticked(1, low="0"),
            {"section-1-repeat_min": "Geben Sie eine ganze Zahl von 1 bis 20 an."},
        ),
        (
            ticked(1, low="zwei"),
            {"section-1-repeat_min": "Geben Sie eine ganze Zahl von 1 bis 20 an."},
        ),
        (
            ticked(1, high="21"),
            {"section-1-repeat_max": "Geben Sie eine ganze Zahl von 1 bis 20 an."},
        ),
        (
            ticked(1, high="2,5"),
            {"section-1-repeat_max": "Geben Sie eine ganze Zahl von 1 bis 20 an."},
        ),
        (
            ticked(1, low="4", high="3"),
            {
                "section-1-repeat_max": "„höchstens“ darf nicht kleiner als "
                "„mindestens“ sein."
            },
        ),
        (
            ticked(1, item=" "),
            {
                "section-1-repeat_item": "Geben Sie an, wie ein Eintrag heißt, zum "
                "Beispiel „Zähler“."
            },
        ),
        (
            ticked(1, add="Neu\u202e"),
            {
                "section-1-repeat_add": "Der Text enthält das Steuerzeichen U+202E; "
                "bitte entfernen."
            },
        ),
    ],
)
def test_a_rule_out_of_bounds_is_refused_at_its_input(meter, catalog, changes, errors):
    assert refused(meter, catalog, **changes) == errors


BANK = "Die Bankdaten werden auseinander abgeleitet."


def test_every_field_a_group_refuses_has_a_german_reason():
    assert set(group_editor.WHY_NOT) == REFUSED_TYPES | REFUSED_NAMES


@pytest.mark.parametrize(
    ("name", "section", "label", "why"),
    [
        (
            "zaehlerstand",
            2,
            "E-Mail-Adresse",
            "An die erste E-Mail-Adresse geht die Eingangsbestätigung.",
        ),
        ("sepa-mandat", 2, "IBAN", BANK),
        (
            "sepa-mandat",
            3,
            "Ich erteile das SEPA-Lastschriftmandat",
            "Eine Einwilligung wird einmal für die ganze Sendung gegeben.",
        ),
    ],
)
def test_a_field_a_group_cannot_hold_is_named_with_the_reason(
    catalog, name, section, label, why
):
    form = load(name, catalog)

    assert refused(form, catalog, **ticked(section)) == {
        f"section-{section}-repeat": f"„{label}“ kann nicht in einem wiederholbaren "
        f"Abschnitt stehen: {why}"
    }


@pytest.mark.parametrize("kept", ["BANK_BIC", "BANK_NAME"])
def test_bic_and_bank_name_alone_are_refused_too(catalog, kept):
    form = load("sepa-mandat", catalog)
    bank = form.sections[2]
    alone = tuple(f for f in bank.fields if f.name == kept)
    form = dataclasses.replace(
        form,
        sections=(
            *form.sections[:2],
            dataclasses.replace(bank, fields=alone),
            *form.sections[3:],
        ),
    )
    label = form.field(kept).label

    assert refused(form, catalog, **ticked(2)) == {
        "section-2-repeat": f"„{label}“ kann nicht in einem wiederholbaren "
        f"Abschnitt stehen: {BANK}"
    }


def test_adding_a_refused_field_to_a_group_is_refused(catalog):
    meters = load("zaehlerstaende", catalog)
    errors = refused(
        meters, catalog, action="add:1", **{"add-1": "DATENSCHUTZ_KENNTNIS"}
    )

    assert list(errors) == ["section-1-repeat"]
    assert "Einwilligung" in errors["section-1-repeat"]


def test_show_if_inside_a_group_is_refused(catalog):
    form = split(parse_definition(CONDITIONS, catalog), 2)

    assert refused(form, catalog, **ticked(0, item="Adresse")) == {
        "ABNST_STRASSE-show_if": "„Straße“ steht in einem wiederholbaren Abschnitt "
        "und kann nicht nur unter einer Bedingung gezeigt werden. Wählen Sie „immer "
        "zeigen“."
    }


def test_a_show_if_naming_a_field_of_a_group_is_refused(catalog):
    form = split(parse_definition(CONDITIONS, catalog), 1, 2)

    assert refused(form, catalog, **ticked(0, item="Grund")) == {
        "ABNST_STRASSE-show_if": "„Straße“ kann nicht von „Anlass der "
        "Ablesung“ abhängen, das in einem wiederholbaren Abschnitt steht. Wählen "
        "Sie „immer zeigen“."
    }


def test_a_group_holding_the_link_check_field_is_refused(catalog):
    contract = dataclasses.replace(load("stromvertrag", catalog), steps=())
    [index] = [
        n
        for n, s in enumerate(contract.sections)
        if "ABNST_PLZ" in [f.name for f in s.fields]
    ]
    label = contract.field("ABNST_PLZ").label
    errors = refused(contract, catalog, **ticked(index, item="Lieferstelle"))

    assert errors[f"section-{index}-repeat"] == (
        f"„{label}“ kann nicht in einem wiederholbaren Abschnitt stehen: Sichere "
        "Links fragen dieses Feld zur Prüfung ab."
    )


def test_wiederholbar_in_a_stepped_form_is_refused(catalog):
    contract = load("stromvertrag", catalog)

    assert refused(contract, catalog, **ticked(0, item="Tarif")) == {
        "section-0-repeat": "Ein Formular mit Schritten kann keinen wiederholbaren "
        "Abschnitt haben: Die Seiten der Schritte tragen nur einzelne Werte. Lösen "
        "Sie zuerst die Schritte auf."
    }


def test_steps_for_a_form_with_a_group_are_refused(catalog):
    meters = load("zaehlerstaende", catalog)

    assert refused(meters, catalog, action="step_add", new_step="Zähler") == {
        "new_step": "Ein Formular mit wiederholbarem Abschnitt („Ihre Zähler“) kann "
        "keine Schritte haben: Die Seiten der Schritte tragen nur einzelne Werte. "
        "Nehmen Sie zuerst das Häkchen bei „Wiederholbar“ weg."
    }


def test_an_edited_rule_exports_and_imports_as_the_same_form(meter, catalog):
    texts = {"add": "Weitere Messstelle hinzufügen", "remove": "Messstelle löschen"}
    edited = apply(meter, catalog, **ticked(1, "1", "7", "Messstelle", **texts))
    plain = apply(meter, catalog, **ticked(1, "2", "3", "Zähler"))

    for form in (edited, plain):
        assert parse_definition(definition_yaml(form, catalog), catalog) == form
    assert "add_label: Weitere Messstelle hinzufügen" in definition_yaml(
        edited, catalog
    )
    assert "add_label" not in definition_yaml(plain, catalog)


def test_a_stored_rule_without_button_texts_keeps_the_wording_it_had(catalog):
    meters = load("zaehlerstaende", catalog)
    stored = meters.to_dict()
    for section in stored["sections"]:
        if section["repeat"]:
            del section["repeat"]["add_label"], section["repeat"]["remove_label"]

    assert FormDefinition.from_dict(stored, catalog) == meters


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("      add_label: ''", "add_label must not be empty"),
        ("      remove_label: [a, b]", "remove_label"),
        ("      farbe: rot", "farbe"),
    ],
)
def test_a_broken_button_text_in_a_file_is_refused_with_its_line(catalog, line, reason):
    text = (DEMO_FORMS / "zaehlerstaende.yaml").read_text(encoding="utf-8")
    lines = [
        line if x.split(":")[0] == line.split(":")[0] else x for x in text.splitlines()
    ]
    if line not in lines:
        lines.insert(lines.index("      item: Zähler") + 1, line)
    with pytest.raises(DefinitionError, match=reason) as refusal:
        parse_definition("\n".join(lines), catalog)
    assert str(refusal.value).startswith(f"line {lines.index(line) + 1}: ")


# Over the real app: the admin pages, the portal, export and import.


async def made_repeatable(client, **rule) -> str:
    """Make the umzug form's first section a group in the editor; return a token."""
    token = await log_in_clerk(client)
    await new_form(client, token, "ZAEHLER_NR", "ZAEHLER_STAND")
    page = await editor_page(client, **ticked(0, **rule))
    response = await post(client, EDIT, token, page)
    assert response.status == 303, await response.text()
    return token


async def test_a_group_made_in_the_editor_shows_its_add_button_in_the_portal(client):
    add = "Weitere <b>Messstelle</b> {{ 7 * 7 }}"
    token = await made_repeatable(client, item="Messstelle", add=add)
    published = await post(client, f"{UMZUG}/publish", token, {"version": "4"})
    assert published.status == 303

    html = await page_text(client, "/musterstadt/umzug")

    shown = Page(html)
    assert shown.buttons == ["add.1"]
    assert [x for x in shown.legends if x.startswith("Messstelle")] == ["Messstelle 1"]
    assert "Weitere &lt;b&gt;Messstelle&lt;/b&gt; {{ 7 * 7 }}</button>" in html


@pytest.mark.parametrize(
    ("changes", "name", "message"),
    [
        (ticked(0, high="99"), "section-0-repeat_max", "eine ganze Zahl von 1 bis 20"),
        (ticked(0, item=""), "section-0-repeat_item", "wie ein Eintrag heißt"),
        (
            {**ticked(0), "action": "add:0", "add-0": "KUNDE_EMAIL"},
            "section-0-repeat",
            "„E-Mail-Adresse“ kann nicht in einem wiederholbaren Abschnitt stehen",
        ),
    ],
)
async def test_a_refused_rule_is_named_at_its_input_and_nothing_is_saved(
    client, changes, name, message
):
    token = await log_in_clerk(client)
    await new_form(client, token, "ZAEHLER_NR")
    typed = {"section-0-repeat_add": "<i>Neu</i>"}
    page = await editor_page(client, **changes, **typed)

    response = await post(client, EDIT, token, page)

    html = " ".join((await response.text()).split())
    assert response.status == 422
    assert f'<p class="field__error" id="e-{name}">' in html
    assert message in html.split(f'id="e-{name}">')[1].split("</p>")[0]
    assert 'value="&lt;i&gt;Neu&lt;/i&gt;"' in html
    assert (await newest(client))[0].last_version == 2


async def test_steps_for_a_form_with_a_group_are_refused_on_the_page(client):
    token = await made_repeatable(client)
    page = await editor_page(client, action="step_add", new_step="Zähler")

    response = await post(client, EDIT, token, page)

    assert response.status == 422
    assert "Nehmen Sie zuerst das Häkchen bei „Wiederholbar“ weg." in (
        " ".join((await response.text()).split())
    )


async def test_saving_restoring_and_comparing_keep_the_rule(client):
    token = await made_repeatable(client, high="4", item="Messstelle", remove="Weg")
    _, made = await newest(client)
    rule = made.sections[0].repeat
    page = await editor_page(client, title="Umzug, neu")
    assert (await post(client, EDIT, token, page)).status == 303
    await post(client, f"{UMZUG}/versions/3/restore", token)
    await post(client, f"{UMZUG}/versions/4/restore", token)

    form, restored = await newest(client)
    versions = [await client.app[FORMS].version(form, n) for n in (5, 6, 7)]
    compared = " ".join((await page_text(client, f"{UMZUG}/compare?a=3&b=4")).split())
    shown = " ".join((await page_text(client, f"{UMZUG}/versions/4")).split())

    assert rule == Repeat(1, 4, "Messstelle", "Messstelle hinzufügen", "Weg")
    assert [v.sections[0].repeat for v in versions] == [rule, None, rule]
    assert restored == made
    assert (
        "Ihre Angaben: 1 bis 4 × Messstelle (Knöpfe „Messstelle hinzufügen“, „Weg“)"
        in compared
    )
    assert (
        "Wiederholbar: 1 bis 4 × „Messstelle“; Knöpfe „Messstelle hinzufügen“ "
        "und „Weg“." in shown
    )


async def test_an_exported_group_imports_back_as_the_same_form(client):
    await made_repeatable(client, low="2", item="Zähler", add="Noch ein Zähler")
    form, made = await newest(client)
    exported = await export_text(client.app[FORMS], "musterstadt", "umzug")

    app = client.app
    await publish_definition(
        app[PORTAL], app[BACKOFFICE], app[TENANTS], exported["text"], "umzug.yaml"
    )

    form, imported = await newest(client)
    assert "add_label: Noch ein Zähler" in exported["text"]
    assert (form.last_version, imported) == (5, made)
