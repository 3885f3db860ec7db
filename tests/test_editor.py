"""The editor's page applied to a draft, and two versions compared."""

import dataclasses
from pathlib import Path

import pytest

from app.forms import editor
from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.compare import ADDED, CHANGED, REMOVED, Change, compare
from app.forms.definition import load_definition_file, parse_definition
from app.forms.editor import EditRefused, Posted
from app.forms.source import definition_yaml

DEMO_FORMS = Path(__file__).parents[1] / "app" / "demo" / "forms"
MAX_FILE = 10_000_000


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_PATH)


@pytest.fixture(scope="module")
def meter(catalog):
    return load_definition_file(DEMO_FORMS / "zaehlerstand.yaml", catalog)


def page_of(form, **changes) -> dict[str, list[str]]:
    """Return the editor's page for a form as a browser sends it unchanged."""
    page = {"title": [form.title], "intro": [form.intro]}
    for index, section in enumerate(form.sections):
        page[f"section-{index}-title"] = [section.title]
        page[f"section-{index}-help"] = [section.help]
        if rule := section.repeat:
            page[f"section-{index}-repeat"] = ["ja"]
            page[f"section-{index}-repeat_min"] = [str(rule.min)]
            page[f"section-{index}-repeat_max"] = [str(rule.max)]
            page[f"section-{index}-repeat_item"] = [rule.item]
            page[f"section-{index}-repeat_add"] = [rule.add_label]
            page[f"section-{index}-repeat_remove"] = [rule.remove_label]
        for field in section.fields:
            name = field.name
            page[f"{name}-label"] = [field.label]
            page[f"{name}-help"] = [field.help]
            page[f"{name}-placeholder"] = [field.placeholder]
            page[f"{name}-required"] = ["ja"] if field.required else []
            page[f"{name}-choices"] = [editor.choices_text(field.choices)]
            page[f"{name}-accept"] = list(field.accept)
            page[f"{name}-max_mb"] = [editor.mb_text(field.max_bytes)]
            page[f"{name}-show_if"] = [editor.condition_of(field)]
    page.update({key: [value] for key, value in changes.items()})
    return page


def apply(form, catalog, **changes):
    return editor.apply(form, Posted(page_of(form, **changes)), catalog, MAX_FILE)


def names(form) -> list[list[str]]:
    return [[field.name for field in section.fields] for section in form.sections]


def test_an_unchanged_page_gives_the_same_definition(meter, catalog):
    assert apply(meter, catalog) == meter


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("up:ZAEHLER_NR", [["ZAEHLER_NR", "KUNDE_NR"], ["ZAEHLER_STAND"]]),
        ("down:KUNDE_NR", [["ZAEHLER_NR", "KUNDE_NR"], ["ZAEHLER_STAND"]]),
        ("down:ZAEHLER_NR", [["KUNDE_NR"], ["ZAEHLER_NR", "ZAEHLER_STAND"]]),
        ("up:ZAEHLER_STAND", [["KUNDE_NR", "ZAEHLER_NR", "ZAEHLER_STAND"], []]),
        ("remove:KUNDE_NR", [["ZAEHLER_NR"], ["ZAEHLER_STAND"]]),
        ("up:KUNDE_NR", [["KUNDE_NR", "ZAEHLER_NR"], ["ZAEHLER_STAND"]]),
    ],
)
def test_move_buttons_move_fields_within_and_across_sections(
    meter, catalog, action, expected
):
    small = dataclasses.replace(meter, sections=meter.sections[:2])
    small = dataclasses.replace(
        small,
        sections=(
            small.sections[0],
            dataclasses.replace(small.sections[1], fields=small.sections[1].fields[:1]),
        ),
    )
    assert names(apply(small, catalog, action=action)) == expected


def test_adding_a_field_appends_the_catalog_field_to_its_section(meter, catalog):
    added = apply(meter, catalog, action="add:2", **{"add-2": "ZAEHLER_ANMERKUNG"})
    assert names(added)[2] == ["KUNDE_EMAIL", "ZAEHLER_ANMERKUNG"]
    assert added.field("ZAEHLER_ANMERKUNG").label == "Anmerkung"
    assert added.field("ZAEHLER_ANMERKUNG").required is False


@pytest.mark.parametrize("name", ["ZAEHLER_NR", "BANK_IBAN", "NICHT_DA"])
def test_only_unused_fields_of_the_record_type_can_be_added(meter, catalog, name):
    with pytest.raises(EditRefused) as refused:
        apply(meter, catalog, action="add:0", **{"add-0": name})
    assert refused.value.errors == {"add-0": "Wählen Sie ein Feld aus der Liste."}


def test_sections_are_added_moved_and_removed_when_empty(meter, catalog):
    grown = apply(meter, catalog, action="section_add", new_section="Hinweise")
    assert [s.title for s in grown.sections][-1] == "Hinweise"
    moved = apply(grown, catalog, action="section_up:3")
    assert [s.title for s in moved.sections][1:] == [
        "Zählerstand",
        "Hinweise",
        "Rückfragen",
    ]
    removed = apply(moved, catalog, action="section_remove:2")
    assert [s.title for s in removed.sections] == [s.title for s in meter.sections]


def test_a_section_with_fields_cannot_be_removed(meter, catalog):
    with pytest.raises(EditRefused) as refused:
        apply(meter, catalog, action="section_remove:0")
    assert list(refused.value.errors) == ["section-0-title"]


def test_settings_typed_on_the_page_reach_the_field(meter, catalog):
    edited = apply(
        meter,
        catalog,
        **{
            "KUNDE_NR-label": "Ihre Kundennummer",
            "KUNDE_NR-placeholder": "100234",
            "KUNDE_NR-required": "",
            "ZAEHLER_FOTO-max_mb": "2,5",
        },
    )
    field = edited.field("KUNDE_NR")
    assert (field.label, field.placeholder, field.required) == (
        "Ihre Kundennummer",
        "100234",
        False,
    )
    assert field.nominative == "Die Angabe „Ihre Kundennummer“"
    assert edited.field("ZAEHLER_FOTO").max_bytes == 2_500_000


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"title": " "}, {"title": "Geben Sie einen Titel an."}),
        (
            {"ZAEHLER_FOTO-max_mb": "11"},
            {
                "ZAEHLER_FOTO-max_mb": "Geben Sie eine Größe über 0 und höchstens "
                "10 MB an."
            },
        ),
        (
            {"ZAEHLER_FOTO-max_mb": "viel"},
            {
                "ZAEHLER_FOTO-max_mb": "Geben Sie eine Größe über 0 und höchstens "
                "10 MB an."
            },
        ),
        (
            {"ZAEHLER_FOTO-accept": ""},
            {"ZAEHLER_FOTO-accept": "Wählen Sie mindestens einen Dateityp."},
        ),
        (
            {"ZAEHLER_ABLESEGRUND-choices": "Jährlich"},
            {
                "ZAEHLER_ABLESEGRUND-choices": "Schreiben Sie jede Auswahl für "
                "„Anlass der Ablesung“ in eine eigene Zeile als „Wert = Beschriftung“, "
                "zum Beispiel „01 = Frau“."
            },
        ),
    ],
)
def test_refused_settings_name_their_input(meter, catalog, changes, errors):
    form = apply(meter, catalog, action="add:1", **{"add-1": "ZAEHLER_ABLESEGRUND"})
    with pytest.raises(EditRefused) as refused:
        apply(form, catalog, **changes)
    assert refused.value.errors == errors


def test_choices_typed_as_value_equals_label_replace_the_catalogs(meter, catalog):
    form = apply(meter, catalog, action="add:1", **{"add-1": "ZAEHLER_ABLESEGRUND"})
    edited = apply(
        form, catalog, **{"ZAEHLER_ABLESEGRUND-choices": "01 = Jährlich\n\n05 = Sonst"}
    )
    assert edited.field("ZAEHLER_ABLESEGRUND").choices == (
        ("01", "Jährlich"),
        ("05", "Sonst"),
    )


def test_compare_lists_added_removed_and_changed(meter, catalog):
    edited = apply(
        meter,
        catalog,
        action="remove:KUNDE_EMAIL",
        title="Zählerstand",
        **{"KUNDE_NR-required": ""},
    )
    edited = apply(edited, catalog, action="add:0", **{"add-0": "VERTRAG_NR"})
    assert compare(meter, edited) == [
        Change("Titel", CHANGED, "Zählerstand melden", "Zählerstand"),
        Change("KUNDE_NR: Pflichtfeld", CHANGED, "ja", "nein"),
        Change("KUNDE_EMAIL", REMOVED, "E-Mail-Adresse, Abschnitt „Rückfragen“", ""),
        Change("VERTRAG_NR", ADDED, "", "Vertragsnummer, Abschnitt „Ihr Zähler“"),
    ]


@pytest.mark.parametrize("name", ["sepa-mandat", "stromvertrag", "zaehlerstand"])
def test_an_exported_definition_imports_as_the_same_form(catalog, name):
    form = load_definition_file(DEMO_FORMS / f"{name}.yaml", catalog)
    text = definition_yaml(form, catalog, "2026-12-07T08:00", "2026-12-31")
    again = parse_definition(text, catalog)
    assert (again.publish_from, again.publish_until) == (
        "2026-12-07T08:00",
        "2026-12-31",
    )
    assert dataclasses.replace(again, publish_from="", publish_until="") == form
