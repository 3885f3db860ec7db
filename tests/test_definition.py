"""Tests of the field catalog and of parsing, storing and loading form definitions."""

import json
from pathlib import Path

import pytest

from app.forms.catalog import (
    CATALOG_PATH,
    CatalogError,
    load_catalog,
    load_yaml,
    parse_catalog,
)
from app.forms.definition import (
    DefinitionError,
    FormDefinition,
    load_definition_file,
    parse_definition,
)

DEMO_FORMS = Path(__file__).parents[1] / "app" / "demo" / "forms"

# Field entries go in at line 8, each indented for the list under "fields".
HEAD = """\
tenant: musterstadt
slug: test-form
title: Testformular
record_type: ZAEHLERSTAND
sections:
  - title: Abschnitt
    fields:
"""
VALID = HEAD + "      - field: KUNDE_NR\n"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_PATH)


def definition(fields: str, head: str = HEAD) -> str:
    return head + fields


@pytest.mark.parametrize(
    ("name", "record_type", "field_count", "file_fields"),
    [
        ("sepa-mandat", "SEPA_MANDAT", 11, ()),
        ("zaehlerstand", "ZAEHLERSTAND", 6, ("ZAEHLER_FOTO",)),
        ("stromvertrag", "STROMVERTRAG", 27, ()),
    ],
)
def test_demo_forms_parse_against_the_catalog(
    catalog, name, record_type, field_count, file_fields
):
    form = load_definition_file(DEMO_FORMS / f"{name}.yaml", catalog)

    assert (form.tenant, form.slug, form.record_type) == (
        "musterstadt",
        name,
        record_type,
    )
    assert len(form.fields) == field_count
    assert tuple(field.name for field in form.file_fields) == file_fields


@pytest.mark.parametrize("name", ["sepa-mandat", "zaehlerstand", "stromvertrag"])
def test_definitions_survive_a_round_trip_through_json(catalog, name):
    form = load_definition_file(DEMO_FORMS / f"{name}.yaml", catalog)
    stored = json.dumps(form.to_dict())

    restored = FormDefinition.from_dict(json.loads(stored), catalog)

    assert restored == form
    assert json.dumps(restored.to_dict()) == stored


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (("slug",), 7, "expected a string, got int"),
        (("max_submission_bytes",), True, "expected an integer, got bool"),
        (
            ("sections", 0, "fields", 0, "required"),
            "true",
            "expected a boolean, got str",
        ),
        (
            ("sections", 0, "fields", 0, "type"),
            "number",
            "field KUNDE_NR no longer has type",
        ),
        (
            ("sections", 0, "fields", 0, "name"),
            "BANK_IBAN",
            "field BANK_IBAN is unknown",
        ),
    ],
)
def test_from_dict_refuses_a_tampered_stored_definition(catalog, path, value, reason):
    data = load_definition_file(DEMO_FORMS / "zaehlerstand.yaml", catalog).to_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    with pytest.raises(
        DefinitionError, match=f"^malformed stored definition: {reason}"
    ):
        FormDefinition.from_dict(data, catalog)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            "      - field: BANK_IBANX\n",
            "line 8: field BANK_IBANX is not in the catalog",
        ),
        (
            "      - field: BANK_IBAN\n",
            "line 8: field BANK_IBAN is not carried by record type ZAEHLERSTAND",
        ),
        (
            "      - field: KUNDE_NR\n"
            "      - field: ZAEHLER_NR\n"
            "      - field: KUNDE_NR\n",
            "line 10: field KUNDE_NR is used twice",
        ),
        (
            "      - field: KUNDE_NR\n        colour: red\n",
            "line 9: unknown key colour in a field",
        ),
        (
            "      - field: KUNDE_NR\n        required: yes\n",
            "line 9: required must be true or false, not 'yes'",
        ),
        ("      - label: Kundennummer\n", "line 8: a field lacks the key field"),
        ("      - KUNDE_NR\n", "line 8: a field must be a mapping"),
    ],
)
def test_parse_definition_refuses_bad_field_entries_naming_the_line(
    catalog, fields, message
):
    with pytest.raises(DefinitionError) as raised:
        parse_definition(definition(fields), catalog)

    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            "        accept: [image/jpeg, image/gif]\n",
            "line 9: accept type image/gif is not one of image/jpeg, image/png, "
            "application/pdf",
        ),
        (
            "        accept: [application/pdf]\n",
            "line 9: field ZAEHLER_FOTO does not accept application/pdf",
        ),
        ('        max_bytes: "10MB"\n', "line 9: max_bytes must be a positive integer"),
        ('        max_bytes: "0"\n', "line 9: max_bytes must be a positive integer"),
        ('        max_bytes: "-5"\n', "line 9: max_bytes must be a positive integer"),
        (
            '        max_bytes: "20000000"\n',
            "line 9: max_bytes may not exceed the catalog's 10000000",
        ),
        (
            "        choices: [{value: a, label: b}]\n",
            "line 9: choices applies to choice fields only, not to ZAEHLER_FOTO",
        ),
        (
            "        placeholder: Foto\n",
            "line 9: placeholder applies to text-like fields only, not to ZAEHLER_FOTO",
        ),
    ],
)
def test_parse_definition_refuses_bad_file_rules_naming_the_line(
    catalog, rules, message
):
    fields = "      - field: ZAEHLER_FOTO\n" + rules

    with pytest.raises(DefinitionError) as raised:
        parse_definition(definition(fields), catalog)

    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: the definition is empty"),
        ("- just a list\n", "line 1: the definition must be a mapping"),
        (
            VALID.replace("test-form", "Test_Form"),
            "line 2: slug 'Test_Form' must be 2-60 ",
        ),
        (VALID.replace("test-form", "x"), "line 2: slug 'x' must be 2-60 characters"),
        (VALID.replace("ZAEHLERSTAND", "GAS"), "line 4: record type GAS is not in the"),
        (
            VALID.replace("Testformular", "A\ntitle: B"),
            "line 4: key title appears twice",
        ),
        (
            VALID.replace("title: Testformular", "colour: red"),
            "line 3: unknown key colour",
        ),
        (
            VALID.replace("title: Testformular\n", ""),
            "line 1: the definition lacks the",
        ),
        (
            HEAD.replace("fields:", "fields: []"),
            "line 7: the fields of a section must ",
        ),
        (
            "tenant: [musterstadt\n",
            "line 2: expected ',' or ']', but got '<stream end>'",
        ),
        ("tenant: &t musterstadt\nslug: *t\n", "line 2: aliases are not supported"),
        ("tenant: " + "[" * 5000, "the document is nested too deeply"),
        (
            VALID + "publish_from: morgen\n",
            "line 9: publish_from must be an ISO 8601 date",
        ),
        (
            VALID + "max_submission_bytes: 1e7\n",
            "line 9: max_submission_bytes must be a p",
        ),
    ],
)
def test_parse_definition_refuses_bad_documents_naming_the_line(catalog, text, message):
    with pytest.raises(DefinitionError) as raised:
        parse_definition(text, catalog)

    assert str(raised.value).startswith(message)


def test_parse_definition_keeps_what_yaml_would_guess_as_typed(catalog):
    head = VALID.replace("musterstadt", "no").replace("test-form", "1e3")
    text = head + (
        "      - field: ZAEHLER_ABLESEGRUND\n"
        "        label: on\n"
        "        choices: [{value: 01067, label: no}, {value: yes, label: off}]\n"
    )

    form = parse_definition(text, catalog)

    assert (form.tenant, form.slug) == ("no", "1e3")
    assert form.field("ZAEHLER_ABLESEGRUND").label == "on"
    assert form.field("ZAEHLER_ABLESEGRUND").choices == (
        ("01067", "no"),
        ("yes", "off"),
    )


def test_load_yaml_keeps_every_scalar_a_string():
    loaded = load_yaml(
        "plz: 01067\nflag: no\nlist: [yes, on, 1e3, 0x1F, ~, 2025-01-01]\n"
    )

    assert loaded == {
        "plz": "01067",
        "flag": "no",
        "list": ["yes", "on", "1e3", "0x1F", "~", "2025-01-01"],
    }


@pytest.mark.parametrize(
    ("choice_count", "input_type"), [(2, "radio"), (4, "radio"), (5, "select")]
)
def test_choice_fields_become_radios_up_to_four_choices(
    catalog, choice_count, input_type
):
    choices = ", ".join(
        f"{{value: c{n}, label: Wahl {n}}}" for n in range(choice_count)
    )
    text = VALID + f"      - field: ZAEHLER_ABLESEGRUND\n        choices: [{choices}]\n"

    field = parse_definition(text, catalog).field("ZAEHLER_ABLESEGRUND")

    assert (field.input_type, len(field.choices)) == (input_type, choice_count)


@pytest.mark.parametrize(
    ("form_name", "name", "shape"),
    [
        ("sepa-mandat", "KUNDE_PLZ", ("text", "numeric", "postal-code", 5)),
        ("sepa-mandat", "BANK_IBAN", ("text", "", "off", 42)),
        ("stromvertrag", "KUNDE_EMAIL", ("email", "", "email", 254)),
        ("stromvertrag", "KUNDE_TELEFON", ("tel", "", "tel", 30)),
        ("stromvertrag", "KUNDE_GEBURTSDATUM", ("date", "", "bday", 10)),
        ("stromvertrag", "ABNST_MALO_ID", ("text", "numeric", "off", 11)),
        ("stromvertrag", "VERBRAUCH_KWH_JAHR", ("text", "numeric", "off", 20)),
        ("zaehlerstand", "ZAEHLER_STAND", ("text", "decimal", "off", 12)),
        ("zaehlerstand", "ZAEHLER_FOTO", ("file", "", "off", None)),
        ("stromvertrag", "SEPA_ZUSTIMMUNG", ("checkbox", "", "off", None)),
        ("stromvertrag", "VERTRAG_TARIF", ("radio", "", "off", None)),
    ],
)
def test_fields_get_their_html_input_shape_from_their_type(
    catalog, form_name, name, shape
):
    form = load_definition_file(DEMO_FORMS / f"{form_name}.yaml", catalog)
    field = form.field(name)

    assert (
        field.input_type,
        field.inputmode,
        field.autocomplete,
        field.max_length,
    ) == shape


def test_a_field_left_plain_takes_label_help_and_wording_from_the_catalog(catalog):
    form = parse_definition(VALID + "      - field: ZAEHLER_NR\n", catalog)
    meter = form.field("ZAEHLER_NR")

    assert (meter.label, meter.required) == ("Zählernummer", False)
    assert (meter.nominative, meter.accusative) == (
        "Die Zählernummer",
        "die Zählernummer",
    )
    assert meter.help == (
        "Die Zählernummer steht auf dem Zähler, meist neben einem Strichcode."
    )


def test_a_field_overridden_by_the_form_keeps_the_form_wording(catalog):
    text = VALID + (
        "      - field: ZAEHLER_FOTO\n"
        "        label: Bild\n"
        "        help: Ein scharfes Bild.\n"
        "        required: true\n"
        '        max_bytes: "5000000"\n'
    )
    photo = parse_definition(text, catalog).field("ZAEHLER_FOTO")

    assert (photo.label, photo.help) == ("Bild", "Ein scharfes Bild.")
    assert (photo.nominative, photo.accusative) == ("Die Angabe „Bild“", "")
    assert (photo.required, photo.max_bytes) == (True, 5_000_000)
    assert photo.accept == ("image/jpeg", "image/png")


def test_a_choice_field_without_choices_is_refused(catalog):
    head = VALID.replace("ZAEHLERSTAND", "STROMVERTRAG")

    with pytest.raises(DefinitionError) as raised:
        parse_definition(head + "      - field: VERTRAG_TARIF\n", catalog)

    assert str(raised.value) == "line 9: field VERTRAG_TARIF needs choices"


@pytest.mark.parametrize(
    ("limit", "ceiling", "allowed"),
    [
        (None, 5_000_000, 5_000_000),
        ("1000", 5_000_000, 1000),
        ("9000000", 5_000_000, 5_000_000),
    ],
)
def test_max_submission_bytes_may_only_lower_the_server_ceiling(
    catalog, limit, ceiling, allowed
):
    text = VALID if limit is None else VALID + f'max_submission_bytes: "{limit}"\n'

    form = parse_definition(text, catalog)

    assert form.submission_limit(ceiling) == allowed


def test_form_field_lookup_raises_key_error_for_fields_the_form_lacks(catalog):
    form = parse_definition(VALID, catalog)

    assert form.field("KUNDE_NR").name == "KUNDE_NR"
    with pytest.raises(KeyError):
        form.field("BANK_IBAN")


def test_every_shipped_field_is_named_with_an_article_or_quotes_its_label(catalog):
    articles = {
        name: field.nominative.split(" ")[0] for name, field in catalog.fields.items()
    }
    consents = {
        name for name, field in catalog.fields.items() if field.type == "consent"
    }

    assert {name for name, article in articles.items() if article == ""} == consents
    assert set(articles.values()) == {"Der", "Die", "Das", ""}


# Rules of the one field go in at line 11.
CATALOG = """\
groups:
  KUNDE: Kunde
record_types:
  KUNDEN:
    label: Kunden
    fields: [KUNDE_NR]
fields:
  KUNDE_NR:
    label: Kundennummer
    group: KUNDE
"""
WORDING = "    nominative: Die Nummer\n    accusative: Ihre Nummer\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (CATALOG + "    type: texte\n", "line 9: field KUNDE_NR needs a type out of"),
        (
            CATALOG + "    type: text\n" + WORDING + '    digits: "5"\n',
            "line 14: unknown key digits in field KUNDE_NR",
        ),
        (
            CATALOG + "    type: text\n    nominative: Die Nummer\n",
            "line 9: field KUNDE_NR needs a nominative and an accusative",
        ),
        (
            CATALOG + "    type: meter_reading\n" + WORDING,
            "line 9: meter readings need digits",
        ),
        (
            CATALOG + "    type: text\n" + WORDING + "    autocomplete: kundennr\n",
            "line 14: autocomplete token kundennr is not known",
        ),
        (
            CATALOG.replace("[KUNDE_NR]", "[KUNDE_NRX]") + "    type: consent\n",
            "line 6: field KUNDE_NRX is not in the catalog",
        ),
        (
            CATALOG.replace("group: KUNDE", "group: VERTRAG") + "    type: consent\n",
            "line 10: group VERTRAG is not listed",
        ),
        (
            CATALOG.replace("record_types", "belegarten"),
            "line 3: unknown key belegarten",
        ),
    ],
)
def test_parse_catalog_refuses_bad_entries_naming_the_line(text, message):
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text)

    assert str(raised.value).startswith(message)


def test_parse_catalog_reads_a_minimal_catalog_with_type_defaults():
    catalog = parse_catalog(CATALOG + "    type: postal_code\n" + WORDING)
    field = catalog.field("KUNDE_NR")

    assert (field.type, field.max_length, field.autocomplete) == (
        "postal_code",
        5,
        "off",
    )
    assert catalog.record_type("KUNDEN").fields == ("KUNDE_NR",)
