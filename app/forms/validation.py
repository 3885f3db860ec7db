"""Validation of a whole submission against the form definition it was sent for."""

import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from app.forms import checks
from app.forms.checks import Checked
from app.forms.definition import FormDefinition, FormField
from app.forms.groups import grouped_names, validate_items

log = logging.getLogger(__name__)

IBAN_FIELD = "BANK_IBAN"
BIC_FIELD = "BANK_BIC"
BANK_NAME_FIELD = "BANK_NAME"
# The value a ticked consent checkbox sends.
TICKED = "ja"
# Free text is only limited by length; the typed checks bound their own input.
_LENGTH_CHECKED = frozenset({"text", "textarea", "phone", "number"})


@dataclass(frozen=True)
class UploadInfo:
    """A file part as the upload layer saw it; content_type judged by content."""

    field: str
    content_type: str | None
    size: int


@dataclass(frozen=True)
class Result:
    """Clean values of the form's non-file fields and German messages by field.

    A field with an error keeps its stripped input in values, so that the form
    can be shown again as it was filled in.
    """

    values: dict[str, str | list[str]]
    errors: dict[str, str]

    @property
    def valid(self) -> bool:
        """Return whether the submission passed every check."""
        return not self.errors


# Limitation: fields are checked one by one; rules that tie fields together,
# such as a previous supplier only for a change of supplier or a minimum age
# for a contract, cannot be expressed in a form definition.
def validate(
    form: FormDefinition,
    values: Mapping[str, str],
    files: Mapping[str, list[UploadInfo]],
    *,
    today: date | None = None,
) -> Result:
    """Check a submission against its form and normalise what passes."""
    today = today or checks.today_in_germany()
    derived = _derived_bank_details(form, values)
    cleaned: dict[str, str] = {}
    errors: dict[str, str] = {}
    grouped = grouped_names(form)
    for field in form.fields:
        if field.name in grouped or not applies(field, cleaned):
            # A field whose condition is not met is neither required nor kept.
            continue
        if field.type == "file":
            error = _upload_error(field, files.get(field.name, []))
        else:
            text = clean_text(values.get(field.name, ""), field)
            if not text and field.name in derived:
                checked = Checked(derived[field.name])
            else:
                checked = _check_value(field, text, today)
            cleaned[field.name] = text if checked.error else checked.value
            error = checked.error
        if error:
            errors[field.name] = error
    items, item_errors = validate_items(
        form, values, files, lambda f, raw, up: _check_item(f, raw, up, today)
    )
    log.debug("Checked a %s submission: %s errors", form.slug, len(errors))
    return Result(values={**cleaned, **items}, errors={**errors, **item_errors})


def _check_item(
    field: FormField, raw: str, uploads: list[UploadInfo], today: date
) -> tuple[str, str | None]:
    """Check one input of a group's item, as validate does outside groups."""
    if field.type == "file":
        return "", _upload_error(field, uploads)
    text = clean_text(raw, field)
    checked = _check_value(field, text, today)
    return (text if checked.error else checked.value), checked.error


def applies(field: FormField, earlier: Mapping[str, str]) -> bool:
    """Say whether a field applies, given the clean values of the fields before.

    A field that depends on one that does not apply does not apply either,
    since that one has no value.
    """
    if not field.show_if_field:
        return True
    return earlier.get(field.show_if_field) == field.show_if_value


def clean_text(raw: str, field: FormField) -> str:
    """Strip an input, compose its accents and unify a textarea's line breaks."""
    text = unicodedata.normalize("NFC", raw)
    if field.type == "textarea":
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()


def missing_message(field: FormField) -> str:
    """Return the message for a required field left empty."""
    if field.type == "consent":
        return f"Setzen Sie das Häkchen bei „{field.label}“."
    if field.type == "choice":
        if field.accusative:
            return f"Wählen Sie {field.accusative} aus."
        return f"Wählen Sie bei „{field.label}“ eine Möglichkeit aus."
    if field.type == "file":
        if field.accusative:
            return f"Laden Sie {field.accusative} hoch."
        return f"Laden Sie bei „{field.label}“ eine Datei hoch."
    if field.accusative:
        return f"Geben Sie {field.accusative} an."
    return f"Füllen Sie das Feld „{field.label}“ aus."


def _nominative(field: FormField) -> str:
    return field.nominative or f"Die Angabe „{field.label}“"


def _check_value(field: FormField, text: str, today: date) -> Checked:
    nominative = _nominative(field)
    multiline = field.type == "textarea"
    problem = checks.character_error(text, nominative, multiline=multiline)
    if problem:
        return Checked("", problem)
    if not text:
        return Checked("", missing_message(field) if field.required else None)
    if field.type in _LENGTH_CHECKED:
        problem = checks.length_error(text, nominative, field.max_length)
        if problem:
            return Checked("", problem)
    return _check_typed(field, text, today)


def _check_choice(field: FormField, text: str) -> Checked:
    if text in {value for value, _ in field.choices}:
        return Checked(text)
    if field.accusative:
        wanted = f"Wählen Sie {field.accusative} aus den angebotenen Möglichkeiten aus."
    else:
        wanted = f"Wählen Sie bei „{field.label}“ eine der Möglichkeiten aus."
    return Checked("", wanted)


def _check_consent(field: FormField, text: str) -> Checked:
    if text == TICKED:
        return Checked(text)
    # Only a tampered request sends another value; a required tick is still
    # missing, an optional one is plainly wrong.
    if field.required:
        return Checked("", missing_message(field))
    return Checked("", f"{_nominative(field)} ist ungültig.")


def _check_typed(field: FormField, text: str, today: date) -> Checked:
    nominative = _nominative(field)
    match field.type:
        case "email":
            return checks.check_email(text, nominative)
        case "phone":
            return checks.check_phone(text, nominative)
        case "date":
            return checks.check_date(
                text, nominative, rule=field.date_rule, today=today
            )
        case "number":
            return checks.check_number(
                text,
                nominative,
                min_value=field.min_value,
                max_value=field.max_value,
                decimals=field.decimals,
            )
        case "postal_code":
            return checks.check_postal_code(text, nominative)
        case "iban":
            return checks.check_iban(text, nominative)
        case "bic":
            return checks.check_bic(text, nominative)
        case "malo_id":
            return checks.check_malo_id(text, nominative)
        case "meter_reading":
            digits = field.digits or 1
            return checks.check_meter_reading(
                text, nominative, digits=digits, decimals=field.decimals
            )
        case "choice":
            return _check_choice(field, text)
        case "consent":
            return _check_consent(field, text)
    return Checked(text)


def _derived_bank_details(
    form: FormDefinition, values: Mapping[str, str]
) -> dict[str, str]:
    """Look up BIC and bank name of a valid German IBAN for the fields left empty."""
    # Limitation: a BIC typed by the customer is checked for its format only,
    # not against the bank the IBAN belongs to.
    names = {field.name for field in form.fields}
    if IBAN_FIELD not in names or not names & {BIC_FIELD, BANK_NAME_FIELD}:
        return {}
    iban = checks.check_iban(
        clean_text(values.get(IBAN_FIELD, ""), form.field(IBAN_FIELD))
    )
    bank = None if iban.error else checks.german_bank(iban.value)
    if bank is None:
        return {}
    return {BIC_FIELD: bank[0], BANK_NAME_FIELD: bank[1]}


def _upload_error(field: FormField, uploads: list[UploadInfo]) -> str | None:
    # Browsers send an empty part for a file input left empty, so an empty
    # file counts as no file.
    present = [upload for upload in uploads if upload.size > 0]
    nominative = _nominative(field)
    if not present:
        return missing_message(field) if field.required else None
    if len(present) > 1:
        return f"Laden Sie bei „{field.label}“ nur eine Datei hoch."
    upload = present[0]
    if upload.content_type not in field.accept:
        kinds = checks.upload_type_names(field.accept)
        return f"{nominative} muss eine Datei vom Typ {kinds} sein."
    if field.max_bytes is not None and upload.size > field.max_bytes:
        limit = checks.format_size(field.max_bytes)
        return f"{nominative} darf höchstens {limit} groß sein."
    return None
