"""Tests of the single-input checks and the German messages they give."""

from datetime import date
from decimal import Decimal

import pytest

from app.forms import checks
from app.forms.checks import Checked

TODAY = date(2025, 6, 15)


@pytest.mark.parametrize(
    ("text", "compact"),
    [
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),
        ("de89370400440532013000", "DE89370400440532013000"),
        ("AT61 1904 3002 3457 3201", "AT611904300234573201"),
        ("FR14 2004 1010 0505 0001 3M02 606", "FR1420041010050500013M02606"),
        ("CH93 0076 2011 6238 5295 7", "CH9300762011623852957"),
    ],
)
def test_check_iban_gives_valid_sepa_ibans_compact_in_capitals(text, compact):
    assert checks.check_iban(text) == Checked(compact)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("DE89370400440532013001", "ist ungültig: die Prüfziffer stimmt nicht."),
        ("DE8937040044053201300", "ist ungültig: IBANs aus DE haben 22 Zeichen."),
        ("XX89370400440532013000", "ist ungültig: das Länderkürzel XX ist unbekannt."),
        (
            "DE89-3704-0044",
            "ist ungültig: erlaubt sind nur Buchstaben, Ziffern und Leerzeichen.",
        ),
        (
            "8937040044",
            "ist ungültig: am Anfang stehen zwei Buchstaben für das Land und zwei "
            "Ziffern, etwa DE12.",
        ),
        (
            "DE89 3704 0044 0532 0130 0A",
            "ist ungültig: der Aufbau passt nicht zum Länderkürzel DE.",
        ),
        (
            "BR1800360305000010009795493C1",
            "muss zu einem Konto im SEPA-Zahlungsraum gehören.",
        ),
    ],
)
def test_check_iban_says_what_is_wrong(text, reason):
    assert checks.check_iban(text) == Checked("", f"Die IBAN {reason}")


def test_check_iban_names_the_field_as_told():
    checked = checks.check_iban("DE00370400440532013000", "Die IBAN des Zahlers")

    assert (
        checked.error
        == "Die IBAN des Zahlers ist ungültig: die Prüfziffer stimmt nicht."
    )


@pytest.mark.parametrize(
    ("iban", "bank"),
    [
        ("DE89370400440532013000", ("COBADEFFXXX", "Commerzbank")),
        ("DE02500105170137075030", ("INGDDEFFXXX", "ING-DiBa")),
        ("DE87123456781234567890", None),
        ("AT611904300234573201", None),
    ],
)
def test_german_bank_is_found_only_for_known_german_bank_codes(iban, bank):
    assert checks.german_bank(iban) == bank


@pytest.mark.parametrize(
    ("text", "compact"),
    [
        ("COBADEFFXXX", "COBADEFFXXX"),
        ("cobadeff", "COBADEFF"),
        ("COBA DE FF XXX", "COBADEFFXXX"),
    ],
)
def test_check_bic_gives_valid_bics_compact_in_capitals(text, compact):
    assert checks.check_bic(text) == Checked(compact)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("COBADEF", "eine BIC hat 8 oder 11 Zeichen."),
        ("COBADEFFXX", "eine BIC hat 8 oder 11 Zeichen."),
        ("COBAXXFF", "das Länderkürzel XX ist unbekannt."),
        ("COBA12FF", "an 5. und 6. Stelle steht das Länderkürzel, etwa DE."),
        ("COBA-DEFF", "erlaubt sind nur Buchstaben, Ziffern und Leerzeichen."),
    ],
)
def test_check_bic_says_what_is_wrong(text, reason):
    assert checks.check_bic(text) == Checked("", f"Die BIC ist ungültig: {reason}")


@pytest.mark.parametrize(
    ("first_ten", "digit"),
    [("4137355924", 1), ("1234567890", 5), ("9999999999", 5), ("2400000000", 0)],
)
def test_malo_check_digit_follows_the_bdew_rule(first_ten, digit):
    assert checks.malo_check_digit(first_ten) == digit


@pytest.mark.parametrize("text", ["41373559241", "12345678905", "24000000000"])
def test_check_malo_id_accepts_ids_with_a_matching_check_digit(text):
    assert checks.check_malo_id(text) == Checked(text)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "41373559240",
            "Die Marktlokations-ID ist ungültig: die Prüfziffer stimmt nicht.",
        ),
        ("04137355924", "Die Marktlokations-ID darf nicht mit 0 beginnen."),
        ("4137355924", "Die Marktlokations-ID muss aus 11 Ziffern bestehen."),
        ("413 735 592 41", "Die Marktlokations-ID muss aus 11 Ziffern bestehen."),
        ("4137355924a", "Die Marktlokations-ID muss aus 11 Ziffern bestehen."),
    ],
)
def test_check_malo_id_refuses_malformed_ids(text, error):
    assert checks.check_malo_id(text) == Checked("", error)


@pytest.mark.parametrize("text", ["01067", "10115", "99998"])
def test_check_postal_code_keeps_five_digits_with_their_leading_zero(text):
    assert checks.check_postal_code(text) == Checked(text)


@pytest.mark.parametrize(
    "text", ["1067", "010677", "0106a", "01 067", "０１０６７", "٠١٠٦٧"]
)
def test_check_postal_code_refuses_anything_but_five_ascii_digits(text):
    assert checks.check_postal_code(text) == Checked(
        "", "Die Postleitzahl muss aus 5 Ziffern bestehen."
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("012345", "012345"),
        ("12345,6", "12345.6"),
        ("0,125", "0.125"),
        ("99999999", "99999999"),
    ],
)
def test_check_meter_reading_keeps_leading_zeros_and_uses_a_decimal_point(text, value):
    assert checks.check_meter_reading(text, digits=8) == Checked(value)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("-5", "Der Zählerstand darf nicht negativ sein."),
        ("12.345", "Der Zählerstand darf nur Ziffern und ein Komma enthalten."),
        ("1,", "Der Zählerstand darf nur Ziffern und ein Komma enthalten."),
        ("123456789", "Der Zählerstand darf höchstens 8 Stellen vor dem Komma haben."),
        ("1,2345", "Der Zählerstand darf höchstens 3 Nachkommastellen haben."),
    ],
)
def test_check_meter_reading_refuses_malformed_readings(text, error):
    assert checks.check_meter_reading(text, digits=8) == Checked("", error)


@pytest.mark.parametrize(
    ("text", "decimals", "value"),
    [
        ("2500", 0, "2500"),
        ("2.500", 0, "2500"),
        ("1.234.567", 0, "1234567"),
        ("2.500,5", 1, "2500.5"),
        ("007", 0, "7"),
        ("-0", 0, "0"),
    ],
)
def test_check_number_reads_german_numbers(text, decimals, value):
    assert checks.check_number(text, decimals=decimals) == Checked(value)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("2500.5", "Der Verbrauch muss eine Zahl sein, zum Beispiel 2500."),
        ("2.50", "Der Verbrauch muss eine Zahl sein, zum Beispiel 2500."),
        ("2,5", "Der Verbrauch muss eine ganze Zahl sein."),
        ("0", "Der Verbrauch muss mindestens 1 betragen."),
        ("100001", "Der Verbrauch darf höchstens 100.000 betragen."),
    ],
)
def test_check_number_holds_to_decimals_and_bounds(text, error):
    checked = checks.check_number(
        text, "Der Verbrauch", min_value=Decimal(1), max_value=Decimal(100000)
    )

    assert checked == Checked("", error)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2024-02-29", date(2024, 2, 29)),
        ("29.02.2024", date(2024, 2, 29)),
        ("1.3.2024", date(2024, 3, 1)),
        ("2023-02-29", None),
        ("31.04.2024", None),
        ("2024/02/01", None),
    ],
)
def test_parse_date_reads_iso_and_german_dates_of_the_real_calendar(text, value):
    assert checks.parse_date(text) == value


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("2024/02/01", "Das Datum muss ein Datum im Format TT.MM.JJJJ sein."),
        ("15. Juni 2025", "Das Datum muss ein Datum im Format TT.MM.JJJJ sein."),
        ("31.04.2024", "Das Datum muss ein echtes Kalenderdatum sein."),
        ("2023-02-29", "Das Datum muss ein echtes Kalenderdatum sein."),
        ("31.12.1899", "Das Datum muss zwischen den Jahren 1900 und 2199 liegen."),
    ],
)
def test_check_date_refuses_what_is_no_real_date(text, error):
    assert checks.check_date(text, today=TODAY) == Checked("", error)


@pytest.mark.parametrize(
    ("rule", "text", "value", "error"),
    [
        ("past", "14.06.2025", "2025-06-14", None),
        ("past", "15.06.2025", "", "Das Datum muss in der Vergangenheit liegen."),
        ("not_future", "15.06.2025", "2025-06-15", None),
        ("not_future", "16.06.2025", "", "Das Datum darf nicht in der Zukunft liegen."),
        ("not_past", "15.06.2025", "2025-06-15", None),
        (
            "not_past",
            "14.06.2025",
            "",
            "Das Datum darf nicht in der Vergangenheit liegen.",
        ),
        ("any", "01.01.2199", "2199-01-01", None),
    ],
)
def test_check_date_holds_dates_to_their_rule_around_today(rule, text, value, error):
    assert checks.check_date(text, rule=rule, today=TODAY) == Checked(value, error)


@pytest.mark.parametrize(
    "text", ["erika@example.de", "a.b+c@sub.example.org", "ö@müller.de"]
)
def test_check_email_accepts_well_formed_addresses(text):
    assert checks.check_email(text) == Checked(text)


@pytest.mark.parametrize(
    "text",
    [
        "erika.example.de",
        "erika@@example.de",
        "erika@exa@mple.de",
        "erika@example",
        "erika @example.de",
        "erika@example..de",
        "erika@.example.de",
        "@example.de",
        "erika@example.de\r\nBcc: x@y.de",
    ],
)
def test_check_email_refuses_malformed_addresses(text):
    assert checks.check_email(text) == Checked(
        "", "Die E-Mail-Adresse muss das Format name@beispiel.de haben."
    )


def test_check_email_refuses_addresses_over_254_characters():
    text = "a" * 64 + "@" + "b" * 186 + ".de"

    assert len(text) == 254
    assert checks.check_email(text).error is None
    assert checks.check_email("x" + text) == Checked(
        "", "Die E-Mail-Adresse darf höchstens 254 Zeichen lang sein."
    )


@pytest.mark.parametrize(
    "text", ["0351 123456", "+49 (351) 123-456", "0351/123456", "123456", "1" * 20]
)
def test_check_phone_accepts_digits_with_the_usual_separators(text):
    assert checks.check_phone(text) == Checked(text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "0351 12345a",
            "darf nur Ziffern, Leerzeichen und die Zeichen + / - ( ) enthalten.",
        ),
        (
            "0351.123456",
            "darf nur Ziffern, Leerzeichen und die Zeichen + / - ( ) enthalten.",
        ),
        ("49+351123456", "darf ein + nur am Anfang enthalten."),
        ("12 345", "muss 6 bis 20 Ziffern haben."),
        ("1" * 21, "muss 6 bis 20 Ziffern haben."),
    ],
)
def test_check_phone_refuses_other_characters_and_digit_counts(text, reason):
    assert checks.check_phone(text) == Checked("", f"Die Telefonnummer {reason}")


@pytest.mark.parametrize(
    ("text", "multiline", "error"),
    [
        ("Zeile\nzwei", False, "Der Ort darf keinen Zeilenumbruch enthalten."),
        ("Zeile\u2028zwei", False, "Der Ort darf keinen Zeilenumbruch enthalten."),
        ("Zeile\nzwei\tmit Tab", True, None),
        ("Tab\tim Namen", False, "Der Ort enthält unzulässige Steuerzeichen."),
        ("Null\x00byte", True, "Der Ort enthält unzulässige Steuerzeichen."),
        ("Umkehr\u202eung", False, "Der Ort enthält unzulässige Steuerzeichen."),
        ("Zeile\u2028zwei", True, "Der Ort enthält unzulässige Steuerzeichen."),
        ("Bad Dürrenberg", False, None),
    ],
)
def test_character_error_refuses_control_characters_and_stray_line_breaks(
    text, multiline, error
):
    assert checks.character_error(text, "Der Ort", multiline=multiline) == error


@pytest.mark.parametrize(
    ("text", "error"),
    [("a" * 10, None), ("a" * 11, "Der Ort darf höchstens 10 Zeichen lang sein.")],
)
def test_length_error_counts_characters(text, error):
    assert checks.length_error(text, "Der Ort", 10) == error


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (10_000_000, "10 MB"),
        (1_500_000, "1,5 MB"),
        (1_590_000, "1,5 MB"),
        (500_000, "500 kB"),
        (999, "999 Bytes"),
    ],
)
def test_format_size_writes_sizes_the_german_way_rounding_down(size, text):
    assert checks.format_size(size) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("100000"), "100.000"),
        (Decimal("2.5"), "2,5"),
        (Decimal("-1234.5"), "-1.234,5"),
    ],
)
def test_german_number_groups_thousands_with_dots(value, text):
    assert checks.german_number(value) == text


@pytest.mark.parametrize(
    ("accept", "text"),
    [
        (("image/png",), "PNG"),
        (("image/jpeg", "image/png"), "JPEG oder PNG"),
        (("image/jpeg", "image/png", "application/pdf"), "JPEG, PNG oder PDF"),
    ],
)
def test_upload_type_names_lists_types_with_oder(accept, text):
    assert checks.upload_type_names(accept) == text
