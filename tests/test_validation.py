"""Tests of validating whole submissions against the demo forms."""

from datetime import date
from pathlib import Path

import pytest

from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.definition import load_definition_file, parse_definition
from app.forms.validation import UploadInfo, validate

DEMO_FORMS = Path(__file__).parents[1] / "app" / "demo" / "forms"
TODAY = date(2025, 6, 15)
PHOTO = UploadInfo("ZAEHLER_FOTO", "image/jpeg", 2_000_000)

GOOD = {
    "sepa-mandat": {
        "KUNDE_NR": "100234",
        "BANK_KONTOINHABER": " Erika Mustermann ",
        "KUNDE_STRASSE": "Am Markt",
        "KUNDE_HAUSNR": "1a",
        "KUNDE_PLZ": "01067",
        "KUNDE_ORT": "Dresden",
        "BANK_IBAN": "de89 3704 0044 0532 0130 00",
        "BANK_BIC": "",
        "BANK_NAME": "",
        "SEPA_ZUSTIMMUNG": "ja",
        "DATENSCHUTZ_KENNTNIS": "ja",
    },
    "zaehlerstand": {
        "KUNDE_NR": "100234",
        "ZAEHLER_NR": "1ESY1160123456",
        "ZAEHLER_STAND": "012345,6",
        "ZAEHLER_ABLESEDATUM": "14.06.2025",
        "KUNDE_EMAIL": "",
    },
    "stromvertrag": {
        "VERTRAG_TARIF": "MS-OEKO",
        "KUNDE_ANREDE": "01",
        "KUNDE_VORNAME": "Erika",
        "KUNDE_NACHNAME": "Mustermann",
        "KUNDE_GEBURTSDATUM": "1980-04-01",
        "KUNDE_NR": "",
        "KUNDE_EMAIL": "erika@example.de",
        "KUNDE_TELEFON": "0351 123456",
        "ABNST_STRASSE": "Hauptstraße",
        "ABNST_HAUSNR": "12",
        "ABNST_PLZ": "01067",
        "ABNST_ORT": "Musterstadt",
        "ZAEHLER_NR": "1ESY1160123456",
        "ABNST_MALO_ID": "41373559241",
        "VERBRAUCH_KWH_JAHR": "2.500",
        "VERTRAG_ANLASS": "01",
        "VERTRAG_BEGINN": "01.08.2025",
        "VORVERSORGER": "Stadtwerke Altstadt",
        "BANK_KONTOINHABER": "Erika Mustermann",
        "BANK_IBAN": "DE02500105170137075030",
        "BANK_BIC": "ingd deff xxx",
        "BANK_NAME": "",
        "SEPA_ZUSTIMMUNG": "ja",
        "AGB_ZUSTIMMUNG": "ja",
        "WIDERRUF_KENNTNIS": "ja",
        "DATENSCHUTZ_KENNTNIS": "ja",
        "WERBUNG_EINWILLIGUNG": "",
    },
}
GOOD_FILES = {"zaehlerstand": {"ZAEHLER_FOTO": [PHOTO]}}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_PATH)


@pytest.fixture(scope="module")
def forms(catalog):
    return {
        name: load_definition_file(DEMO_FORMS / f"{name}.yaml", catalog)
        for name in GOOD
    }


def check(forms, name, changes=None, files=None):
    values = {**GOOD[name], **(changes or {})}
    files = GOOD_FILES.get(name, {}) if files is None else files
    return validate(forms[name], values, files, today=TODAY)


@pytest.mark.parametrize(
    ("name", "normalised"),
    [
        (
            "sepa-mandat",
            {
                "BANK_KONTOINHABER": "Erika Mustermann",
                "BANK_IBAN": "DE89370400440532013000",
                "BANK_BIC": "COBADEFFXXX",
                "BANK_NAME": "Commerzbank",
            },
        ),
        (
            "zaehlerstand",
            {"ZAEHLER_STAND": "012345.6", "ZAEHLER_ABLESEDATUM": "2025-06-14"},
        ),
        (
            "stromvertrag",
            {
                "VERBRAUCH_KWH_JAHR": "2500",
                "VERTRAG_BEGINN": "2025-08-01",
                "BANK_BIC": "INGDDEFFXXX",
                "BANK_NAME": "ING-DiBa",
            },
        ),
    ],
)
def test_a_well_filled_demo_form_passes_with_normalised_values(forms, name, normalised):
    result = check(forms, name)

    assert result.errors == {}
    assert result.valid is True
    assert result.values == {**GOOD[name], **normalised}


@pytest.mark.parametrize(
    ("name", "field", "value", "message"),
    [
        ("sepa-mandat", "BANK_IBAN", " ", "Geben Sie Ihre IBAN an."),
        (
            "sepa-mandat",
            "BANK_IBAN",
            "DE89 3704 0044 0532 0130 01",
            "Die IBAN ist ungültig: die Prüfziffer stimmt nicht.",
        ),
        (
            "sepa-mandat",
            "KUNDE_PLZ",
            "1067",
            "Die Postleitzahl muss aus 5 Ziffern bestehen.",
        ),
        (
            "sepa-mandat",
            "BANK_BIC",
            "COBADEF",
            "Die BIC ist ungültig: eine BIC hat 8 oder 11 Zeichen.",
        ),
        (
            "sepa-mandat",
            "BANK_KONTOINHABER",
            "x" * 71,
            "Der Name des Kontoinhabers darf höchstens 70 Zeichen lang sein.",
        ),
        (
            "sepa-mandat",
            "KUNDE_ORT",
            "Dresden\nNeustadt",
            "Der Ort darf keinen Zeilenumbruch enthalten.",
        ),
        (
            "sepa-mandat",
            "KUNDE_STRASSE",
            "Am\x00Markt",
            "Die Straße enthält unzulässige Steuerzeichen.",
        ),
        (
            "sepa-mandat",
            "SEPA_ZUSTIMMUNG",
            "",
            "Setzen Sie das Häkchen bei „Ich erteile das SEPA-Lastschriftmandat“.",
        ),
        ("zaehlerstand", "ZAEHLER_NR", "", "Geben Sie die Zählernummer an."),
        (
            "zaehlerstand",
            "ZAEHLER_STAND",
            "12.345",
            "Der Zählerstand darf nur Ziffern und ein Komma enthalten.",
        ),
        (
            "zaehlerstand",
            "ZAEHLER_STAND",
            "123456789",
            "Der Zählerstand darf höchstens 8 Stellen vor dem Komma haben.",
        ),
        (
            "zaehlerstand",
            "ZAEHLER_ABLESEDATUM",
            "16.06.2025",
            "Das Ablesedatum darf nicht in der Zukunft liegen.",
        ),
        (
            "zaehlerstand",
            "ZAEHLER_ABLESEDATUM",
            "31.02.2025",
            "Das Ablesedatum muss ein echtes Kalenderdatum sein.",
        ),
        (
            "zaehlerstand",
            "KUNDE_EMAIL",
            "erika@example",
            "Die E-Mail-Adresse muss das Format name@beispiel.de haben.",
        ),
    ],
)
def test_each_kind_of_error_is_reported_for_its_field_alone(
    forms, name, field, value, message
):
    result = check(forms, name, {field: value})

    assert result.errors == {field: message}
    assert result.values[field] == value.strip()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "KUNDE_GEBURTSDATUM",
            "2030-01-01",
            "Das Geburtsdatum muss in der Vergangenheit liegen.",
        ),
        (
            "VERTRAG_BEGINN",
            "01.01.2025",
            "Der Lieferbeginn darf nicht in der Vergangenheit liegen.",
        ),
        (
            "VERBRAUCH_KWH_JAHR",
            "250000",
            "Der Jahresverbrauch darf höchstens 100.000 betragen.",
        ),
        ("VERBRAUCH_KWH_JAHR", "0", "Der Jahresverbrauch muss mindestens 1 betragen."),
        (
            "VERBRAUCH_KWH_JAHR",
            "2500,5",
            "Der Jahresverbrauch muss eine ganze Zahl sein.",
        ),
        (
            "ABNST_MALO_ID",
            "41373559240",
            "Die Marktlokations-ID ist ungültig: die Prüfziffer stimmt nicht.",
        ),
        (
            "KUNDE_TELEFON",
            "0351-abc",
            "Die Telefonnummer darf nur Ziffern, Leerzeichen und die Zeichen + / - ( ) "
            "enthalten.",
        ),
        ("VERTRAG_TARIF", "", "Wählen Sie einen Tarif aus."),
        (
            "VERTRAG_TARIF",
            "MS-GRATIS",
            "Wählen Sie einen Tarif aus den angebotenen Möglichkeiten aus.",
        ),
        (
            "KUNDE_ANREDE",
            "1",
            "Wählen Sie Ihre Anrede aus den angebotenen Möglichkeiten aus.",
        ),
        (
            "AGB_ZUSTIMMUNG",
            "nein",
            "Setzen Sie das Häkchen bei „Ich stimme den Allgemeinen "
            "Geschäftsbedingungen und den Preisen zu“.",
        ),
        (
            "WERBUNG_EINWILLIGUNG",
            "vielleicht",
            "Die Angabe „Ich möchte per E-Mail über Angebote und Neuigkeiten "
            "informiert werden“ ist ungültig.",
        ),
        (
            "KUNDE_VORNAME",
            "Erika\u202e",
            "Der Vorname enthält unzulässige Steuerzeichen.",
        ),
    ],
)
def test_the_contract_form_reports_each_kind_of_error(forms, field, value, message):
    result = check(forms, "stromvertrag", {field: value})

    assert result.errors == {field: message}


@pytest.mark.parametrize(
    ("uploads", "message"),
    [
        ([], "Laden Sie ein Foto des Zählers hoch."),
        (
            [UploadInfo("ZAEHLER_FOTO", "image/png", 0)],
            "Laden Sie ein Foto des Zählers hoch.",
        ),
        (
            [UploadInfo("ZAEHLER_FOTO", "application/pdf", 5000)],
            "Das Foto des Zählers muss eine Datei vom Typ JPEG oder PNG sein.",
        ),
        (
            [UploadInfo("ZAEHLER_FOTO", None, 5000)],
            "Das Foto des Zählers muss eine Datei vom Typ JPEG oder PNG sein.",
        ),
        (
            [UploadInfo("ZAEHLER_FOTO", "image/png", 10_000_001)],
            "Das Foto des Zählers darf höchstens 10 MB groß sein.",
        ),
        ([PHOTO, PHOTO], "Laden Sie bei „Foto des Zählers“ nur eine Datei hoch."),
        ([UploadInfo("ZAEHLER_FOTO", "image/png", 10_000_000)], None),
    ],
)
def test_the_meter_photo_must_be_one_image_within_its_size(forms, uploads, message):
    result = check(forms, "zaehlerstand", files={"ZAEHLER_FOTO": uploads})

    assert result.errors == ({} if message is None else {"ZAEHLER_FOTO": message})
    assert "ZAEHLER_FOTO" not in result.values


def test_errors_of_an_empty_submission_come_in_page_order(forms):
    result = validate(forms["sepa-mandat"], {}, {}, today=TODAY)

    assert list(result.errors) == [
        "BANK_KONTOINHABER",
        "KUNDE_STRASSE",
        "KUNDE_HAUSNR",
        "KUNDE_PLZ",
        "KUNDE_ORT",
        "BANK_IBAN",
        "SEPA_ZUSTIMMUNG",
        "DATENSCHUTZ_KENNTNIS",
    ]
    assert set(result.values.values()) == {""}


def test_values_that_are_no_fields_of_the_form_are_ignored(forms):
    result = check(
        forms, "zaehlerstand", {"BANK_IBAN": "DE00", "ZAEHLER_FOTO": "x.jpg"}
    )

    assert result.errors == {}
    assert list(result.values) == [
        "KUNDE_NR",
        "ZAEHLER_NR",
        "ZAEHLER_STAND",
        "ZAEHLER_ABLESEDATUM",
        "KUNDE_EMAIL",
    ]


@pytest.mark.parametrize(
    ("changes", "bank"),
    [
        ({}, ("COBADEFFXXX", "Commerzbank")),
        ({"BANK_BIC": "cobadeff"}, ("COBADEFF", "Commerzbank")),
        ({"BANK_NAME": "Meine Bank"}, ("COBADEFFXXX", "Meine Bank")),
        ({"BANK_IBAN": "AT61 1904 3002 3457 3201"}, ("", "")),
        ({"BANK_IBAN": "DE87123456781234567890"}, ("", "")),
        ({"BANK_IBAN": "DE89370400440532013001"}, ("", "")),
    ],
)
def test_bic_and_bank_name_are_derived_only_for_known_german_banks_left_empty(
    forms, changes, bank
):
    result = check(forms, "sepa-mandat", changes)

    assert (result.values["BANK_BIC"], result.values["BANK_NAME"]) == bank


@pytest.mark.parametrize(
    ("field", "typed", "kept"),
    [
        ("KUNDE_PLZ", "01067", "01067"),
        ("KUNDE_HAUSNR", "007", "007"),
        ("KUNDE_ORT", "no", "no"),
        ("KUNDE_NR", "0001e3", "0001e3"),
        ("KUNDE_ORT", "Mu\u0308nchen", "München"),
    ],
)
def test_typed_values_keep_their_leading_zeros_and_are_never_guessed(
    forms, field, typed, kept
):
    result = check(forms, "sepa-mandat", {field: typed})

    assert result.errors == {}
    assert result.values[field] == kept


def test_a_textarea_keeps_its_lines_with_unified_breaks(catalog):
    text = (DEMO_FORMS / "zaehlerstand.yaml").read_text(encoding="utf-8")
    text += "  - title: Anmerkung\n    fields:\n      - field: ZAEHLER_ANMERKUNG\n"
    form = parse_definition(text, catalog)
    values = {**GOOD["zaehlerstand"], "ZAEHLER_ANMERKUNG": " Zähler\r\nim Keller\r\n"}

    result = validate(form, values, GOOD_FILES["zaehlerstand"], today=TODAY)

    assert result.errors == {}
    assert result.values["ZAEHLER_ANMERKUNG"] == "Zähler\nim Keller"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Füllen Sie das Feld „Nummer auf dem Zähler“ aus."),
        (
            "x" * 21,
            "Die Angabe „Nummer auf dem Zähler“ darf höchstens 20 Zeichen lang sein.",
        ),
    ],
)
def test_a_renamed_field_is_named_by_its_new_label(catalog, value, message):
    text = (DEMO_FORMS / "zaehlerstand.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "field: ZAEHLER_NR\n",
        "field: ZAEHLER_NR\n        label: Nummer auf dem Zähler\n",
    )
    form = parse_definition(text, catalog)
    values = {**GOOD["zaehlerstand"], "ZAEHLER_NR": value}

    result = validate(form, values, GOOD_FILES["zaehlerstand"], today=TODAY)

    assert result.errors == {"ZAEHLER_NR": message}
