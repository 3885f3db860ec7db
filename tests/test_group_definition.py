"""Repeatable sections in a definition: read, refused by line, stored, compared."""

import json

import pytest

from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.compare import compare
from app.forms.definition import DefinitionError, FormDefinition, parse_definition
from app.forms.groups import Repeat
from app.forms.source import definition_yaml
from tests.test_definition import VALID

HEAD = VALID + "  - title: Zähler\n"
# The repeat rule is on line 10; the group's first field on line 12.
GROUP = (
    HEAD
    + """\
    repeat: {min: "1", max: "3", item: Zähler}
    fields:
      - field: ZAEHLER_NR
        required: "true"
"""
)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_PATH)


def test_a_repeat_rule_is_read_with_its_item(catalog):
    form = parse_definition(GROUP, catalog)
    assert form.sections[1].repeat == Repeat(1, 3, "Zähler")
    assert form.sections[0].repeat is None


def test_a_group_survives_json_and_the_yaml_export(catalog):
    form = parse_definition(GROUP, catalog)
    stored = FormDefinition.from_dict(json.loads(json.dumps(form.to_dict())), catalog)
    assert stored == form
    assert parse_definition(definition_yaml(form, catalog), catalog) == form


def test_a_version_stored_before_groups_still_loads(catalog):
    data = parse_definition(HEAD + "    fields: [{field: ZAEHLER_NR}]\n", catalog)
    data = data.to_dict()
    for section in data["sections"]:
        del section["repeat"]
    assert FormDefinition.from_dict(data, catalog).sections[1].repeat is None


@pytest.mark.parametrize(
    ("rule", "fields", "message"),
    [
        ('{min: "3", max: "2", item: Z}', "", "line 10: repeat max must not be below"),
        ('{min: "1", max: "21", item: Z}', "", "line 10: repeat max may be at most 20"),
        ('{min: "0", max: "2", item: Z}', "", "line 10: min must be"),
        ('{min: "1", max: "2"}', "", "line 10: repeat lacks the key item"),
        ('{min: "1", max: "2", item: ""}', "", "line 10: item must not be empty"),
        (
            '{min: "1", max: "2", item: Z, x: "1"}',
            "",
            "line 10: unknown key x in repeat",
        ),
        (
            '{min: "1", max: "2", item: Z}',
            "      - field: KUNDE_EMAIL\n",
            "line 13: field KUNDE_EMAIL cannot be part of a repeated section",
        ),
        (
            '{min: "1", max: "2", item: Z}',
            "      - field: DATENSCHUTZ_KENNTNIS\n",
            "line 13: field DATENSCHUTZ_KENNTNIS cannot be part of a repeated",
        ),
        (
            '{min: "1", max: "2", item: Z}',
            "      - field: ZAEHLER_ABLESEGRUND\n"
            "      - field: ZAEHLER_ANMERKUNG\n"
            '        show_if: {field: ZAEHLER_ABLESEGRUND, value: "02"}\n',
            "line 14: field ZAEHLER_ANMERKUNG in a repeated section cannot use show_if",
        ),
    ],
)
def test_a_wrong_group_is_refused_with_its_line(catalog, rule, fields, message):
    text = HEAD + f"    repeat: {rule}\n    fields:\n      - field: ZAEHLER_NR\n"
    with pytest.raises(DefinitionError) as refused:
        parse_definition(text + fields, catalog)
    assert str(refused.value).startswith(message), str(refused.value)


def test_a_field_outside_may_not_depend_on_a_repeated_field(catalog):
    text = GROUP.replace("ZAEHLER_NR", "ZAEHLER_ABLESEGRUND") + (
        "  - title: Anmerkung\n    fields:\n      - field: ZAEHLER_ANMERKUNG\n"
        '        show_if: {field: ZAEHLER_ABLESEGRUND, value: "02"}\n'
    )
    with pytest.raises(DefinitionError, match="line 16: show_if of ZAEHLER_ANMERKUNG"):
        parse_definition(text, catalog)


def test_link_check_may_not_name_a_repeated_field(catalog):
    text = GROUP.replace("sections:", "link_check: ZAEHLER_NR\nsections:")
    with pytest.raises(DefinitionError, match="line 13: link_check cannot name"):
        parse_definition(text, catalog)


def test_compare_names_a_changed_repeat_rule(catalog):
    left = parse_definition(GROUP, catalog)
    changed = GROUP.replace('max: "3"', 'max: "5", add_label: Noch einer')
    right = parse_definition(changed, catalog)
    [change] = compare(left, right)
    buttons = "„Zähler hinzufügen“, „Zähler entfernen“"
    assert (change.subject, change.left, change.right) == (
        "Wiederholbare Abschnitte",
        f"Zähler: 1 bis 3 × Zähler (Knöpfe {buttons})",
        "Zähler: 1 bis 5 × Zähler (Knöpfe „Noch einer“, „Zähler entfernen“)",
    )


STEPPED = """\
tenant: musterstadt
slug: zaehler-schritte
title: Zähler in Schritten
record_type: ZAEHLERSTAND
steps:
  - title: Zähler
    sections:
      - title: Zähler
        repeat: {min: "1", max: "3", item: Zähler}
        fields:
          - field: ZAEHLER_NR
"""
MANDATE = """\
tenant: musterstadt
slug: mandat-mehrfach
title: Mandat
record_type: SEPA_MANDAT
sections:
  - title: Kontoinhaber
    repeat: {min: "1", max: "2", item: Inhaber}
    fields:
      - field: BANK_KONTOINHABER
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (STEPPED, "line 8: a repeatable section cannot be part of a stepped form"),
        (
            MANDATE,
            "line 9: field BANK_KONTOINHABER cannot be part of a repeated section",
        ),
    ],
)
def test_a_group_where_none_may_be_is_refused_with_its_line(catalog, text, message):
    with pytest.raises(DefinitionError) as refused:
        parse_definition(text, catalog)
    assert str(refused.value) == message
