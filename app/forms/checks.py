"""Pure checks of single inputs, each giving a normalised value or a German message.

Every check takes the stripped input and the phrase that starts a sentence about
the field ("Die IBAN"), so that messages name the field the way the form does.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from schwifty import BIC, IBAN
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    SchwiftyException,
)

GERMANY = ZoneInfo("Europe/Berlin")
# Years outside this span are typing errors, not dates anyone means here.
FIRST_YEAR = 1900
LAST_YEAR = 2199
EMAIL_MAX_LENGTH = 254
PHONE_DIGITS = (6, 20)

# [0-9] rather than \d: \d also matches Arabic-Indic and other digits, which
# int() would silently accept.
_POSTAL_CODE = re.compile(r"[0-9]{5}")
_MALO_ID = re.compile(r"[0-9]{11}")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_GERMAN_DATE = re.compile(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})")
_METER_READING = re.compile(r"([0-9]+)(?:,([0-9]+))?")
_NUMBER = re.compile(r"(-?)([0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+)(?:,([0-9]+))?")
_ALPHANUMERIC = re.compile(r"[A-Z0-9]+")
_IBAN_START = re.compile(r"[A-Z]{2}[0-9]{2}")
_PHONE_CHARACTERS = frozenset("0123456789 +/-()")
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")
# Embedding, override and isolate marks can make text read differently from
# what it holds, so they are refused like control characters.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_UPLOAD_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "application/pdf": "PDF"}


@dataclass(frozen=True)
class Checked:
    """The normalised value of a valid input, or the message for an invalid one."""

    value: str
    error: str | None = None


def _fail(message: str) -> Checked:
    return Checked("", message)


def today_in_germany() -> date:
    """Return today's date in Germany, which decides past and future."""
    return datetime.now(GERMANY).date()


def character_error(
    text: str, nominative: str, *, multiline: bool = False
) -> str | None:
    """Return a message if the text holds control characters or stray line breaks."""
    for character in text:
        if multiline and character in "\n\t":
            continue
        if character in _LINE_BREAKS and not multiline:
            return f"{nominative} darf keinen Zeilenumbruch enthalten."
        category = unicodedata.category(character)
        if category in ("Cc", "Cs", "Zl", "Zp") or character in _BIDI_CONTROLS:
            return f"{nominative} enthält unzulässige Steuerzeichen."
    return None


def length_error(text: str, nominative: str, max_length: int | None) -> str | None:
    """Return a message if the text is longer than max_length characters."""
    if max_length is not None and len(text) > max_length:
        return f"{nominative} darf höchstens {max_length} Zeichen lang sein."
    return None


def check_postal_code(text: str, nominative: str = "Die Postleitzahl") -> Checked:
    """Check a German postal code: exactly 5 digits, leading zero kept."""
    # Limitation: the code is not looked up in the list of codes in use, so a
    # well-formed code that no town has, such as 00000, passes.
    if not _POSTAL_CODE.fullmatch(text):
        return _fail(f"{nominative} muss aus 5 Ziffern bestehen.")
    return Checked(text)


def malo_check_digit(first_ten: str) -> int:
    """Return the BDEW check digit for the first 10 digits of a MaLo-ID."""
    odd_positions = sum(int(digit) for digit in first_ten[0::2])
    even_positions = sum(int(digit) for digit in first_ten[1::2])
    return (10 - (odd_positions + 2 * even_positions) % 10) % 10


def check_malo_id(text: str, nominative: str = "Die Marktlokations-ID") -> Checked:
    """Check a market location id: 11 digits, not starting with 0, check digit."""
    if not _MALO_ID.fullmatch(text):
        return _fail(f"{nominative} muss aus 11 Ziffern bestehen.")
    if text[0] == "0":
        return _fail(f"{nominative} darf nicht mit 0 beginnen.")
    if int(text[10]) != malo_check_digit(text[:10]):
        return _fail(f"{nominative} ist ungültig: die Prüfziffer stimmt nicht.")
    return Checked(text)


def check_meter_reading(
    text: str,
    nominative: str = "Der Zählerstand",
    *,
    digits: int,
    decimals: int = 3,
) -> Checked:
    """Check a meter reading and give it with a decimal point, leading zeros kept."""
    if text.startswith("-"):
        return _fail(f"{nominative} darf nicht negativ sein.")
    match = _METER_READING.fullmatch(text)
    if not match:
        return _fail(f"{nominative} darf nur Ziffern und ein Komma enthalten.")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(whole) > digits:
        return _fail(
            f"{nominative} darf höchstens {digits} Stellen vor dem Komma haben."
        )
    if len(fraction) > decimals:
        return _fail(_decimals_message(nominative, decimals))
    return Checked(f"{whole}.{fraction}" if fraction else whole)


def check_number(
    text: str,
    nominative: str = "Die Zahl",
    *,
    min_value: Decimal | None = None,
    max_value: Decimal | None = None,
    decimals: int = 0,
) -> Checked:
    """Check a number written the German way (2.500,5) and give it as 2500.5."""
    match = _NUMBER.fullmatch(text)
    if not match:
        return _fail(f"{nominative} muss eine Zahl sein, zum Beispiel 2500.")
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if len(fraction) > decimals:
        return _fail(_decimals_message(nominative, decimals))
    number = Decimal(
        sign + whole.replace(".", "") + (f".{fraction}" if fraction else "")
    )
    if min_value is not None and number < min_value:
        return _fail(
            f"{nominative} muss mindestens {german_number(min_value)} betragen."
        )
    if max_value is not None and number > max_value:
        return _fail(
            f"{nominative} darf höchstens {german_number(max_value)} betragen."
        )
    # abs() turns -0 into 0; nobody means a negative zero.
    return Checked(format(number if number else abs(number), "f"))


def _decimals_message(nominative: str, decimals: int) -> str:
    if decimals == 0:
        return f"{nominative} muss eine ganze Zahl sein."
    return f"{nominative} darf höchstens {decimals} Nachkommastellen haben."


def german_number(value: Decimal) -> str:
    """Write a number the German way: 100.000 and 2,5."""
    sign = "-" if value < 0 else ""
    whole, _, fraction = format(abs(value), "f").partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return sign + grouped + (f",{fraction}" if fraction else "")


def format_size(size: int) -> str:
    """Write a byte count for people: 10 MB, 1,5 MB, 500 kB."""
    for unit, factor in (("MB", 1_000_000), ("kB", 1_000)):
        if size >= factor:
            # Round down so that "höchstens 1,5 MB" never promises more.
            amount = (Decimal(size) / factor).quantize(Decimal("0.1"), ROUND_DOWN)
            return f"{german_number(amount.normalize())} {unit}"
    return f"{size} Bytes"


def parse_date(text: str) -> date | None:
    """Return the date written as YYYY-MM-DD or TT.MM.JJJJ, or None."""
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = match.groups()
    elif match := _GERMAN_DATE.fullmatch(text):
        day, month, year = match.groups()
    else:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def check_date(
    text: str,
    nominative: str = "Das Datum",
    *,
    rule: str = "any",
    today: date | None = None,
) -> Checked:
    """Check a real calendar date and give it as YYYY-MM-DD."""
    if not (_ISO_DATE.fullmatch(text) or _GERMAN_DATE.fullmatch(text)):
        return _fail(f"{nominative} muss ein Datum im Format TT.MM.JJJJ sein.")
    value = parse_date(text)
    if value is None:
        return _fail(f"{nominative} muss ein echtes Kalenderdatum sein.")
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        span = f"{FIRST_YEAR} und {LAST_YEAR}"
        return _fail(f"{nominative} muss zwischen den Jahren {span} liegen.")
    today = today or today_in_germany()
    if rule == "past" and value >= today:
        return _fail(f"{nominative} muss in der Vergangenheit liegen.")
    if rule == "not_future" and value > today:
        return _fail(f"{nominative} darf nicht in der Zukunft liegen.")
    if rule == "not_past" and value < today:
        return _fail(f"{nominative} darf nicht in der Vergangenheit liegen.")
    return Checked(value.isoformat())


def check_email(text: str, nominative: str = "Die E-Mail-Adresse") -> Checked:
    """Check the shape of an e-mail address: one @, no spaces, a dotted domain."""
    if len(text) > EMAIL_MAX_LENGTH:
        return _fail(
            f"{nominative} darf höchstens {EMAIL_MAX_LENGTH} Zeichen lang sein."
        )
    local, _, domain = text.partition("@")
    well_formed = (
        text.count("@") == 1
        and local
        and "." in domain
        and "" not in domain.split(".")
        and not any(c.isspace() or unicodedata.category(c) == "Cc" for c in text)
    )
    if not well_formed:
        return _fail(f"{nominative} muss das Format name@beispiel.de haben.")
    return Checked(text)


def check_phone(text: str, nominative: str = "Die Telefonnummer") -> Checked:
    """Check a phone number: digits, spaces and + / - ( ), 6 to 20 digits."""
    if not set(text) <= _PHONE_CHARACTERS:
        allowed = "Ziffern, Leerzeichen und die Zeichen + / - ( )"
        return _fail(f"{nominative} darf nur {allowed} enthalten.")
    if "+" in text[1:]:
        return _fail(f"{nominative} darf ein + nur am Anfang enthalten.")
    digits = sum(character.isdigit() for character in text)
    low, high = PHONE_DIGITS
    if not low <= digits <= high:
        return _fail(f"{nominative} muss {low} bis {high} Ziffern haben.")
    return Checked(text)


def check_iban(text: str, nominative: str = "Die IBAN") -> Checked:
    """Check an IBAN of the SEPA area and give it compact in capitals."""
    compact = "".join(text.split()).upper()
    invalid = f"{nominative} ist ungültig:"
    if not _ALPHANUMERIC.fullmatch(compact):
        return _fail(f"{invalid} erlaubt sind nur Buchstaben, Ziffern und Leerzeichen.")
    if not _IBAN_START.match(compact):
        start = "zwei Buchstaben für das Land und zwei Ziffern, etwa DE12"
        return _fail(f"{invalid} am Anfang stehen {start}.")
    country = compact[:2]
    try:
        iban = IBAN(compact)
    except InvalidCountryCode:
        return _fail(f"{invalid} das Länderkürzel {country} ist unbekannt.")
    except InvalidLength:
        length = IBAN(compact, allow_invalid=True).spec.iban_length
        return _fail(f"{invalid} IBANs aus {country} haben {length} Zeichen.")
    except InvalidChecksumDigits:
        return _fail(f"{invalid} die Prüfziffer stimmt nicht.")
    except SchwiftyException:
        return _fail(f"{invalid} der Aufbau passt nicht zum Länderkürzel {country}.")
    if not iban.in_sepa_zone:
        return _fail(f"{nominative} muss zu einem Konto im SEPA-Zahlungsraum gehören.")
    return Checked(iban.compact)


def german_bank(iban: str) -> tuple[str, str] | None:
    """Return BIC and bank name of a valid German IBAN if the registry knows them."""
    if not iban.startswith("DE"):
        return None
    parsed = IBAN(iban)
    if parsed.bic is None or not parsed.bank_name:
        return None
    return str(parsed.bic), parsed.bank_name


def check_bic(text: str, nominative: str = "Die BIC") -> Checked:
    """Check the format of a BIC and give it compact in capitals."""
    compact = "".join(text.split()).upper()
    invalid = f"{nominative} ist ungültig:"
    if not _ALPHANUMERIC.fullmatch(compact):
        return _fail(f"{invalid} erlaubt sind nur Buchstaben, Ziffern und Leerzeichen.")
    if len(compact) not in (8, 11):
        return _fail(f"{invalid} eine BIC hat 8 oder 11 Zeichen.")
    try:
        BIC(compact)
    except InvalidCountryCode:
        return _fail(f"{invalid} das Länderkürzel {compact[4:6]} ist unbekannt.")
    except SchwiftyException:
        place = "an 5. und 6. Stelle steht das Länderkürzel, etwa DE"
        return _fail(f"{invalid} {place}.")
    return Checked(compact)


def upload_type_names(accept: tuple[str, ...]) -> str:
    """Name upload types for people: "JPEG oder PNG"."""
    names = [_UPLOAD_NAMES[mime_type] for mime_type in accept]
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " oder " + names[-1]
