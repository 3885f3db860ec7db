"""Stepped definitions: the file, the stored version, the export, the comparison."""

import dataclasses
import json

import pytest

from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.compare import compare
from app.forms.definition import (
    DefinitionError,
    FormDefinition,
    Step,
    load_definition_file,
    parse_definition,
)
from app.forms.source import definition_yaml
from app.forms.steps import pages, progress, step_heads
from tests.test_definition import DEMO_FORMS

FORM = """\
tenant: musterstadt
slug: ablesung
title: Ablesung
record_type: ZAEHLERSTAND
steps:
  - title: Ihr Zähler
    sections:
      - title: Zähler
        fields:
          - field: ZAEHLER_ABLESEGRUND
            required: "true"
      - title: Stand
        fields:
          - field: ZAEHLER_STAND
  - title: Adresse
    sections:
      - title: Neue Adresse
        fields:
          - field: ABNST_STRASSE
            required: "true"
            show_if: {field: ZAEHLER_ABLESEGRUND, value: "02"}
"""


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_PATH)


def test_steps_group_the_sections_in_order(catalog):
    form = parse_definition(FORM, catalog)

    assert form.steps == (Step("Ihr Zähler", 2), Step("Adresse", 1))
    assert [s.title for s in form.sections] == ["Zähler", "Stand", "Neue Adresse"]
    assert [(p.title, [f.name for f in p.fields]) for p in pages(form)] == [
        ("Ihr Zähler", ["ZAEHLER_ABLESEGRUND", "ZAEHLER_STAND"]),
        ("Adresse", ["ABNST_STRASSE"]),
    ]
    assert step_heads(form) == {
        0: "Schritt 1 von 2: Ihr Zähler",
        2: progress(2, 2, "Adresse"),
    }


def test_a_form_without_steps_is_one_page(catalog):
    form = load_definition_file(DEMO_FORMS / "sepa-mandat.yaml", catalog)

    assert form.steps == ()
    assert "steps" not in form.to_dict()
    assert [page.fields for page in pages(form)] == [form.fields]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("steps:\n", "sections: []\nsteps:\n", "line 7: the definition needs either"),
        ("  - title: Adresse\n", "  - title: ''\n", "line 15: title must not be empty"),
        (
            "    sections:\n      - title: Neue",
            "    fields:\n      - title: Neue",
            "line 16: unknown key fields in a step",
        ),
        ('value: "02"}', 'value: "07"}', "line 21: '07' is not a value of"),
    ],
)
def test_broken_steps_are_refused_with_their_line(catalog, old, new, message):
    assert old in FORM
    with pytest.raises(DefinitionError) as refused:
        parse_definition(FORM.replace(old, new), catalog)
    assert message in str(refused.value)


def test_a_step_without_sections_is_refused(catalog):
    text = FORM.replace(FORM[FORM.index("  - title: Adresse") :], "  - title: Leer\n")
    with pytest.raises(DefinitionError) as refused:
        parse_definition(text + "    sections: []\n", catalog)
    assert "line 16: the sections of a step must not be empty" in str(refused.value)


def test_a_field_may_not_depend_on_a_later_step(catalog):
    controller = (
        '          - field: ZAEHLER_ABLESEGRUND\n            required: "true"\n'
    )
    text = FORM.replace(controller, "          - field: KUNDE_EMAIL\n")
    text += controller

    with pytest.raises(DefinitionError) as refused:
        parse_definition(text, catalog)

    assert "line 20: show_if needs a choice or consent field before ABNST_STRASSE" in (
        str(refused.value)
    )


def test_stepped_demo_contract_survives_json_and_export(catalog):
    form = load_definition_file(DEMO_FORMS / "stromvertrag.yaml", catalog)

    stored = FormDefinition.from_dict(json.loads(json.dumps(form.to_dict())), catalog)
    exported = parse_definition(definition_yaml(form, catalog), catalog)

    assert [step.title for step in form.steps] == [
        "Tarif und Lieferbeginn",
        "Ihre Angaben",
        "Lieferstelle",
        "Zahlung und Zustimmung",
    ]
    assert stored == form
    assert exported == form
    assert form.field("VORVERSORGER").show_if_field == "VERTRAG_ANLASS"


@pytest.mark.parametrize(
    "steps",
    [
        [{"title": "A", "size": 1}],
        [{"title": "A", "size": 0}, {"title": "B", "size": 3}],
    ],
)
def test_stored_steps_must_cover_the_sections(catalog, steps):
    data = {**parse_definition(FORM, catalog).to_dict(), "steps": steps}
    with pytest.raises(DefinitionError):
        FormDefinition.from_dict(data, catalog)


def test_comparison_names_the_steps_and_a_field_moved_to_another(catalog):
    before = parse_definition(FORM, catalog)
    after = dataclasses.replace(before, steps=(Step("Ihr Zähler", 1), Step("Rest", 2)))

    changes = {c.subject: (c.left, c.right) for c in compare(before, after)}

    assert changes["Schritte"] == (
        "Ihr Zähler (2 Abschnitte) | Adresse (1 Abschnitt)",
        "Ihr Zähler (1 Abschnitt) | Rest (2 Abschnitte)",
    )
    assert changes["ZAEHLER_STAND: Schritt"] == ("Ihr Zähler", "Rest")
    assert changes["ABNST_STRASSE: Schritt"] == ("Adresse", "Rest")
