"""The form editor's rules: a clerk's posted page applied to a definition.

The editor is one HTML form per draft. Its text inputs carry every setting;
its buttons, all named `action`, say what to do on top: save, add a field,
move one up or down, remove one, add or move a section. Each click saves
the whole page as the next version, so nothing typed is lost and no
JavaScript is needed. Pure code: no I/O, German messages by input name.
"""

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from app.forms import group_editor, step_editor
from app.forms.catalog import Catalog, CatalogField, unsafe_character
from app.forms.definition import (
    _PLACEHOLDER_TYPES,
    CONDITION_TYPES,
    ORDER_RECORD_TYPES,
    FormDefinition,
    FormField,
    Section,
    build_field,
)

# Limitation: the editor has no inputs for a form's link_check,
# confirmation_mail, link_expiry_days and max_submission_bytes; it keeps what
# an import set, and only a new import of a YAML file changes them.
MB = 1_000_000
# A size in megabytes as a clerk types it: up to four digits, two decimals.
_SIZE = re.compile(r"[0-9]{1,4}(\.[0-9]{1,2})?")
MAX_TEXT = 2000
TYPE_LABELS = {"image/jpeg": "JPEG", "image/png": "PNG", "application/pdf": "PDF"}


@dataclass(frozen=True)
class Posted:
    """The editor's page as sent: every value of every input name."""

    values: Mapping[str, list[str]]

    def one(self, name: str, default: str = "") -> str:
        """Return the first value of an input, or the default."""
        found = self.values.get(name)
        return found[0] if found else default

    def all(self, name: str) -> list[str]:
        """Return every value of an input, such as ticked boxes."""
        return list(self.values.get(name, []))


class EditRefused(Exception):
    """The posted page cannot be saved; `errors` says why, by input name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(f"{len(errors)} inputs refused")
        self.errors = errors


def links_only_fixed(form: FormDefinition) -> bool:
    """Say whether a form is links only by its record type, not by choice."""
    return form.record_type in ORDER_RECORD_TYPES


def placeholder_allowed(field: FormField) -> bool:
    """Say whether a field's input can show a placeholder."""
    return field.type in _PLACEHOLDER_TYPES


def addable_fields(form: FormDefinition, catalog: Catalog) -> list[CatalogField]:
    """Return the catalog fields of the record type the form does not use yet."""
    used = {field.name for field in form.fields}
    names = catalog.record_types[form.record_type].fields
    return [catalog.fields[name] for name in names if name not in used]


def file_ceiling(field: CatalogField, form: FormDefinition, max_file_bytes: int) -> int:
    """Return the largest size a file field may allow on this form."""
    limits = [max_file_bytes, field.max_bytes, form.max_submission_bytes]
    return min(limit for limit in limits if limit)


def choices_text(choices: tuple[tuple[str, str], ...]) -> str:
    """Write choices one a line as the editor shows them: `value = label`."""
    return "\n".join(f"{value} = {label}" for value, label in choices)


def condition_options(form: FormDefinition, field: FormField) -> list[tuple[str, str]]:
    """Return the conditions a field may have: a value of an earlier field."""
    options = []
    for earlier in form.fields:
        if earlier.name == field.name:
            break
        if earlier.type not in CONDITION_TYPES:
            continue
        if earlier.type == "consent":
            options.append((f"{earlier.name}=ja", f"„{earlier.label}“ ist angekreuzt"))
        for value, label in earlier.choices if earlier.type == "choice" else ():
            options.append(
                (f"{earlier.name}={value}", f"„{earlier.label}“ ist „{label}“")
            )
    return options


def condition_of(field: FormField) -> str:
    """Write a field's condition as the editor's option value, or empty."""
    if not field.show_if_field:
        return ""
    return f"{field.show_if_field}={field.show_if_value}"


def mb_text(size: int | None) -> str:
    """Write a byte size as megabytes the German way."""
    return "" if size is None else f"{size / MB:g}".replace(".", ",")


def apply(
    base: FormDefinition, posted: Posted, catalog: Catalog, max_file_bytes: int
) -> FormDefinition:
    """Return the definition the page describes, with its button's action done."""
    errors: dict[str, str] = {}

    def text(name: str, required: str = "") -> str:
        return _text(posted, name, errors, required=required)

    title = _text(posted, "title", errors, required="Geben Sie einen Titel an.")
    intro = _text(posted, "intro", errors)
    sections = []
    for index, section in enumerate(base.sections):
        key = f"section-{index}"
        sections.append(
            Section(
                _text(
                    posted,
                    f"{key}-title",
                    errors,
                    required="Geben Sie dem Abschnitt einen Titel.",
                ),
                _text(posted, f"{key}-help", errors),
                tuple(
                    _field(posted, catalog, base, field, max_file_bytes, errors)
                    for field in section.fields
                ),
                group_editor.read(key, section.repeat, posted.one, text, errors),
            )
        )
    steps = step_editor.read_titles(base, text)
    if errors:
        raise EditRefused(errors)
    edited = dataclasses.replace(
        base,
        title=title,
        intro=intro,
        sections=tuple(sections),
        steps=steps,
        # An order stays links only whatever is ticked; see FormDefinition.
        links_only=posted.one("links_only") == "ja",
    )
    settled = _settle_conditions(_act(edited, posted, catalog))
    if refused := group_editor.refusals(base, settled):
        raise EditRefused(refused)
    return settled


def _settle_conditions(form: FormDefinition) -> FormDefinition:
    """Drop conditions whose field is gone or no longer comes before."""
    sections = []
    for section in form.sections:
        fields = []
        for field in section.fields:
            if field.show_if_field and condition_of(field) not in dict(
                condition_options(form, field)
            ):
                field = dataclasses.replace(field, show_if_field="", show_if_value="")
            fields.append(field)
        sections.append(dataclasses.replace(section, fields=tuple(fields)))
    return dataclasses.replace(form, sections=tuple(sections))


def _text(posted: Posted, name: str, errors: dict, required: str = "") -> str:
    value = posted.one(name).strip().replace("\r\n", "\n")
    if required and not value:
        errors[name] = required
    elif len(value) > MAX_TEXT:
        errors[name] = f"Der Text ist länger als {MAX_TEXT} Zeichen."
    elif bad := unsafe_character(value):
        errors[name] = f"Der Text enthält das Steuerzeichen {bad}; bitte entfernen."
    return value


def _field(
    posted: Posted,
    catalog: Catalog,
    form: FormDefinition,
    field: FormField,
    max_file_bytes: int,
    errors: dict[str, str],
) -> FormField:
    """Read one field's inputs into a new field, noting what is refused."""
    source = catalog.fields[field.name]
    key = field.name
    label = _text(posted, f"{key}-label", errors)
    choices = source.choices
    if source.type == "choice":
        choices = _choices(posted, f"{key}-choices", field, errors) or source.choices
    accept, max_bytes = source.accept, source.max_bytes
    if source.type == "file":
        accept = _accept(posted, f"{key}-accept", source, errors)
        ceiling = file_ceiling(source, form, max_file_bytes)
        max_bytes = _megabytes(posted, f"{key}-max_mb", ceiling, errors) or max_bytes
    placeholder = ""
    if placeholder_allowed(field):
        placeholder = _text(posted, f"{key}-placeholder", errors)
    condition = ("", "")
    if source.type != "file":
        condition = _condition(posted, f"{key}-show_if", form, field, errors)
    return build_field(
        source,
        label="" if label == source.label else label,
        help=_text(posted, f"{key}-help", errors),
        placeholder=placeholder,
        required=posted.one(f"{key}-required") == "ja",
        choices=choices,
        accept=accept,
        max_bytes=max_bytes,
        show_if=condition,
    )


def _condition(
    posted: Posted, name: str, form: FormDefinition, field: FormField, errors: dict
) -> tuple[str, str]:
    chosen = posted.one(name)
    if not chosen:
        return ("", "")
    if chosen not in dict(condition_options(form, field)):
        errors[name] = "Wählen Sie eine Bedingung aus der Liste."
        return ("", "")
    controller, _, value = chosen.partition("=")
    return (controller, value)


def _choices(
    posted: Posted, name: str, field: FormField, errors: dict[str, str]
) -> tuple[tuple[str, str], ...]:
    choices: list[tuple[str, str]] = []
    for line in posted.one(name).splitlines():
        if not line.strip():
            continue
        value, sign, label = (part.strip() for part in line.partition("="))
        if not (sign and value and label):
            errors[name] = (
                f"Schreiben Sie jede Auswahl für „{field.label}“ in eine eigene "
                "Zeile als „Wert = Beschriftung“, zum Beispiel „01 = Frau“."
            )
            return ()
        if value in dict(choices):
            errors[name] = f"Der Wert „{value}“ steht zweimal in der Auswahl."
            return ()
        choices.append((value, label))
    return tuple(choices)


def _accept(
    posted: Posted, name: str, source: CatalogField, errors: dict[str, str]
) -> tuple[str, ...]:
    chosen = [t for t in source.accept if t in posted.all(name)]
    if not chosen:
        errors[name] = "Wählen Sie mindestens einen Dateityp."
    return tuple(chosen) or source.accept


def _megabytes(
    posted: Posted, name: str, ceiling: int, errors: dict[str, str]
) -> int | None:
    text = posted.one(name).strip().replace(",", ".")
    if not text:
        return None
    # Plain digits only: Decimal would take "1e999999" or "NaN" and then
    # spend minutes, or fail, turning them into bytes.
    size = int(Decimal(text) * MB) if _SIZE.fullmatch(text) else 0
    if not 0 < size <= ceiling:
        errors[name] = (
            f"Geben Sie eine Größe über 0 und höchstens {mb_text(ceiling)} MB an."
        )
        return None
    return size


# The actions of the editor's buttons.


def _act(form: FormDefinition, posted: Posted, catalog: Catalog) -> FormDefinition:
    verb, _, target = posted.one("action", "save").partition(":")
    try:
        stepped = step_editor.act(form, verb, target, posted.one("new_step"))
    except step_editor.StepRefused as refused:
        raise EditRefused(refused.errors) from None
    if stepped is not None:
        return stepped
    sections = [list(section.fields) for section in form.sections]
    heads = [(s.title, s.help, s.repeat) for s in form.sections]
    if verb == "add":
        sections = _add_field(form, posted, catalog, sections, target)
    elif verb in ("up", "down", "remove"):
        sections = _move_field(sections, target, verb)
    elif verb == "section_add":
        title = posted.one("new_section").strip()
        if not title:
            raise EditRefused({"new_section": "Geben Sie dem Abschnitt einen Titel."})
        if form.steps:
            return step_editor.add_section(form, title)
        heads.append((title, "", None))
        sections.append([])
    elif verb in ("section_up", "section_down", "section_remove"):
        heads, sections = _move_section(heads, sections, _index(target), verb)
    elif verb != "save":
        raise EditRefused({"action": "Diese Aktion gibt es nicht."})
    return dataclasses.replace(
        form,
        sections=tuple(
            Section(title, help_, tuple(fields), repeat)
            for (title, help_, repeat), fields in zip(heads, sections, strict=True)
        ),
    )


def _index(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise EditRefused({"action": "Diese Aktion gibt es nicht."}) from None


def _add_field(form, posted, catalog, sections, target):
    index = _index(target)
    name = posted.one(f"add-{index}")
    if index >= len(sections) or name not in {
        f.name for f in addable_fields(form, catalog)
    }:
        raise EditRefused({f"add-{index}": "Wählen Sie ein Feld aus der Liste."})
    sections[index].append(build_field(catalog.fields[name]))
    return sections


def _move_field(sections: list[list[FormField]], name: str, verb: str):
    """Move a field within its section, or across into the next one."""
    for index, fields in enumerate(sections):
        names = [field.name for field in fields]
        if name not in names:
            continue
        position = names.index(name)
        field = fields.pop(position)
        if verb == "remove":
            return sections
        step = -1 if verb == "up" else 1
        target = position + step
        if 0 <= target <= len(fields):
            fields.insert(target, field)
        elif step < 0 and index > 0:
            sections[index - 1].append(field)
        elif step > 0 and index + 1 < len(sections):
            sections[index + 1].insert(0, field)
        else:
            fields.insert(position, field)
        return sections
    raise EditRefused({"action": "Dieses Feld gibt es im Formular nicht."})


def _move_section(heads, sections, index: int, verb: str):
    if not 0 <= index < len(sections):
        raise EditRefused({"action": "Diesen Abschnitt gibt es nicht."})
    if verb == "section_remove":
        if sections[index]:
            raise EditRefused(
                {
                    f"section-{index}-title": "Entfernen oder verschieben Sie zuerst "
                    "die Felder dieses Abschnitts."
                }
            )
        if len(sections) == 1:
            raise EditRefused(
                {f"section-{index}-title": "Ein Formular braucht einen Abschnitt."}
            )
        del heads[index], sections[index]
        return heads, sections
    other = index - 1 if verb == "section_up" else index + 1
    if 0 <= other < len(sections):
        heads[index], heads[other] = heads[other], heads[index]
        sections[index], sections[other] = sections[other], sections[index]
    return heads, sections
