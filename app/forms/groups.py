"""Repeatable sections: a group of fields a customer fills in once per item.

A section with `repeat: {min, max, item}` is shown as items, "Zähler 1",
"Zähler 2" and so on. On the page, the input of a field in item n is named
`<FIELD>.<n>`: catalog names are upper case letters, digits and underscores,
so a name with a dot cannot collide with one of them. A hidden input
`items.<s>` carries how many items section s (1-based) shows, and the buttons
that add or remove an item post `group_action` as `add.<s>` or
`remove.<s>.<n>`. In the checked values, each field of a group holds a list
with one entry per item.
"""

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from app.forms.catalog import (
    YamlError,
    filled_text_of,
    line_of,
    mapping_of,
    positive_int_of,
)

if TYPE_CHECKING:
    from app.forms.definition import FormDefinition, FormField, Section

# More items than this would make a page no one fills in without a mistake;
# a customer with more meters sends the form twice.
MAX_ITEMS = 20
ACTION = "group_action"
COUNT_PREFIX = "items."
# Bank details are derived from each other across fields, a consent is given
# once for the whole send, and the first e-mail field receives the
# confirmation: none of them makes sense once per item.
REFUSED_TYPES = frozenset({"consent", "email", "iban", "bic"})
# An account has one holder: a mandate with several would be void.
REFUSED_NAMES = frozenset({"BANK_NAME", "BANK_KONTOINHABER"})
_ITEM_NAME = re.compile(r"([A-Z][A-Z0-9_]*)\.([1-9][0-9]?)")
_COUNT = re.compile(r"[0-9]{1,2}")
_COUNT_NAME = re.compile(r"items\.[1-9][0-9]?")
_ACTION = re.compile(r"add\.([1-9][0-9]?)|remove\.([1-9][0-9]?)\.([1-9][0-9]?)")


_RULE_KEYS = ("min", "max", "item", "add_label", "remove_label")


def default_labels(item: str) -> tuple[str, str]:
    """Return the add and remove buttons' texts for an item, fit for any gender.

    "Zähler hinzufügen" reads right for "Zähler", "Messstelle" and "Gerät"
    alike, where "Weiteren … hinzufügen" would need the item's gender.
    """
    return f"{item} hinzufügen", f"{item} entfernen"


def earlier_labels(item: str) -> tuple[str, str]:
    """Return the buttons' texts shown by versions stored before they could be set."""
    return f"Weiteren {item} hinzufügen", f"Diesen {item} entfernen"


@dataclass(frozen=True)
class Repeat:
    """How often a section is filled in, what an item is called, its buttons.

    Empty button texts are filled from the item by default_labels().
    """

    min: int
    max: int
    item: str
    add_label: str = ""
    remove_label: str = ""

    def __post_init__(self) -> None:
        add, remove = default_labels(self.item)
        object.__setattr__(self, "add_label", self.add_label or add)
        object.__setattr__(self, "remove_label", self.remove_label or remove)

    def to_dict(self) -> dict:
        """Return the rule as a JSON-safe dict."""
        return {key: getattr(self, key) for key in _RULE_KEYS}


@dataclass(frozen=True)
class GroupProblem:
    """A rule of repeatable sections a form breaks, by section and field.

    `kind` is one of STEPPED, SHOW_IF_INSIDE, SHOW_IF_TOWARDS, REFUSED_FIELD
    and LINK_CHECK; `field` is empty for a problem of the whole section.
    """

    kind: str
    section: int
    field: str = ""


STEPPED, SHOW_IF_INSIDE, SHOW_IF_TOWARDS, REFUSED_FIELD, LINK_CHECK = (
    "stepped",
    "show_if_inside",
    "show_if_towards",
    "refused_field",
    "link_check",
)


class GroupError(ValueError):
    """A send whose group controls no page of this form could have posted."""


# --- Definition ----------------------------------------------------------------


def repeat_of(node: yaml.Node | None) -> Repeat | None:
    """Read a section's repeat rule: min and max items and the item's name."""
    if node is None:
        return None
    entry = mapping_of(
        node, "repeat", allowed=set(_RULE_KEYS), required=("min", "max", "item")
    )
    low = positive_int_of(entry["min"], "min")
    high = positive_int_of(entry["max"], "max")
    if high < low:
        raise YamlError(line_of(entry["max"]), "repeat max must not be below min")
    if high > MAX_ITEMS:
        reason = f"repeat max may be at most {MAX_ITEMS}"
        raise YamlError(line_of(entry["max"]), reason)
    labels = [
        filled_text_of(entry[key], key) if key in entry else ""
        for key in ("add_label", "remove_label")
    ]
    return Repeat(low, high, filled_text_of(entry["item"], "item"), *labels)


def repeat_from_dict(data: object) -> Repeat | None:
    """Rebuild a repeat rule from to_dict() output; None stays None.

    A rule stored before the buttons' texts could be set gets the texts
    its version showed then.
    """
    if data is None:
        return None
    if isinstance(data, dict) and set(data) == {"min", "max", "item"}:
        add, remove = earlier_labels(data["item"])
        data = {**data, "add_label": add, "remove_label": remove}
    if not isinstance(data, dict) or set(data) != set(_RULE_KEYS):
        raise ValueError("a repeat rule does not have the expected keys")
    low, high, *texts = (data[key] for key in _RULE_KEYS)
    numbers_ok = all(type(n) is int for n in (low, high)) and 1 <= low <= high
    texts_ok = all(isinstance(text, str) and text for text in texts)
    if not numbers_ok or high > MAX_ITEMS or not texts_ok:
        raise ValueError("a repeat rule is out of range")
    return Repeat(low, high, *texts)


def group_problems(
    sections: "Sequence[Section]", link_check: str, *, stepped: bool
) -> list[GroupProblem]:
    """Return every rule of repeatable sections the sections break, in page order.

    A show_if is refused inside a group and towards a field of a group: the
    condition would have to hold per item, which the stylesheet that hides
    fields cannot express. The YAML parser and the editor both judge by it.
    """
    grouped = {f.name for s in sections if s.repeat for f in s.fields}
    found = []
    for number, section in enumerate(sections):
        # Limitation: a repeatable section cannot sit in a stepped form, since
        # the step pages and their encrypted state carry single values only.
        if stepped and section.repeat:
            found.append(GroupProblem(STEPPED, number))
        for field in section.fields:
            if section.repeat and field.show_if_field:
                found.append(GroupProblem(SHOW_IF_INSIDE, number, field.name))
            elif field.show_if_field in grouped:
                found.append(GroupProblem(SHOW_IF_TOWARDS, number, field.name))
            if not section.repeat:
                continue
            if field.type in REFUSED_TYPES or field.name in REFUSED_NAMES:
                found.append(GroupProblem(REFUSED_FIELD, number, field.name))
            if field.name == link_check:
                found.append(GroupProblem(LINK_CHECK, number, field.name))
    return found


def check_groups(
    section_nodes: "Sequence[yaml.Node]",
    sections: "Sequence[Section]",
    link_check: str,
    *,
    stepped: bool,
) -> None:
    """Refuse the first rule of repeatable sections broken, naming its line."""
    problems = group_problems(sections, link_check, stepped=stepped)
    if not problems:
        return
    problem = problems[0]
    node = section_nodes[problem.section]
    if problem.field:
        fields = _value(node, "fields").value
        names = [f.name for f in sections[problem.section].fields]
        node = fields[names.index(problem.field)]
    raise YamlError(line_of(node), _REASONS[problem.kind].format(problem.field))


_REASONS = {
    STEPPED: "a repeatable section cannot be part of a stepped form",
    SHOW_IF_INSIDE: "field {} in a repeated section cannot use show_if",
    SHOW_IF_TOWARDS: "show_if of {} may not name a repeated field",
    REFUSED_FIELD: "field {} cannot be part of a repeated section",
    LINK_CHECK: "link_check cannot name the repeated field {}",
}


def _value(mapping: yaml.Node, key: str) -> yaml.Node:
    return next(v for k, v in mapping.value if k.value == key)


# --- Names on the page -----------------------------------------------------------


def item_name(name: str, number: int) -> str:
    """Return the input name of a field in item `number` (1-based)."""
    return f"{name}.{number}"


def split_name(name: str) -> tuple[str, int] | None:
    """Return the field name and item number of an item's input name."""
    match = _ITEM_NAME.fullmatch(name)
    return (match[1], int(match[2])) if match else None


def repeated(form: "FormDefinition") -> list[tuple[int, "Section"]]:
    """Return the repeatable sections with their 1-based position."""
    return [(n, s) for n, s in enumerate(form.sections, start=1) if s.repeat]


def has_groups(form: "FormDefinition") -> bool:
    """Say whether a form has a repeatable section."""
    return bool(repeated(form))


def grouped_names(form: "FormDefinition") -> set[str]:
    """Return the names of the fields that sit in a repeatable section."""
    return {f.name for _, s in repeated(form) for f in s.fields}


def item_of(form: "FormDefinition", name: str) -> str:
    """Return what one item of the group holding a field is called."""
    for _, section in repeated(form):
        if any(f.name == name for f in section.fields):
            return section.repeat.item
    raise KeyError(name)


def item_field(form: "FormDefinition", input_name: str) -> "FormField | None":
    """Return the field an item's input stands for, renamed to that input."""
    parts = split_name(input_name)
    if parts is None:
        return None
    for _, section in repeated(form):
        for field in section.fields:
            if field.name == parts[0] and parts[1] <= section.repeat.max:
                return dataclasses.replace(field, name=input_name)
    return None


def input_field(form: "FormDefinition", name: str) -> "FormField | None":
    """Return the field an input of the page stands for, or None.

    A field of a group is only ever sent as an item's input, <FIELD>.<n>;
    its bare name is no input of the page.
    """
    if name in grouped_names(form):
        return None
    try:
        return form.field(name)
    except KeyError:
        return item_field(form, name)


def is_control(name: str) -> bool:
    """Say whether an input name is one of the groups' own controls."""
    return name == ACTION or _COUNT_NAME.fullmatch(name) is not None


def counts(form: "FormDefinition", raw: Mapping[str, str]) -> dict[int, int]:
    """Return how many items each repeatable section was sent with.

    A missing count is the section's minimum. A count that is no small
    number was not posted by our page; it counts as none, which the rule
    then refuses.
    """
    found = {}
    for number, section in repeated(form):
        text = raw.get(f"{COUNT_PREFIX}{number}", "")
        if not text:
            found[number] = section.repeat.min
        else:
            found[number] = int(text) if _COUNT.fullmatch(text) else 0
    return found


def page_items(
    section: "Section", number: int, values: Mapping[str, str]
) -> list[dict]:
    """Return the items a page shows of section `number`, fields renamed.

    The count comes from the values the page was sent with, kept within the
    section's rule; an empty page shows the minimum.
    """
    rule = section.repeat
    text = values.get(f"{COUNT_PREFIX}{number}", "")
    count = int(text) if _COUNT.fullmatch(str(text)) else rule.min
    count = max(rule.min, min(rule.max, count))
    return [
        {
            "number": item,
            "fields": [
                dataclasses.replace(f, name=item_name(f.name, item))
                for f in section.fields
            ],
        }
        for item in range(1, count + 1)
    ]


# --- Checking ----------------------------------------------------------------------

# A checker takes a field, its raw text and its uploads, and returns the
# clean value (or the raw text when it fails) and an error or None.
Checker = Callable[["FormField", str, list], tuple[str, str | None]]


def count_error(section: "Section", count: int) -> str | None:
    """Return the German message for a number of items out of range."""
    rule = section.repeat
    if count < rule.min:
        return f"Geben Sie mindestens {rule.min} × „{rule.item}“ an."
    if count > rule.max:
        return f"Sie können höchstens {rule.max} × „{rule.item}“ angeben."
    return None


def validate_items(
    form: "FormDefinition",
    raw: Mapping[str, str],
    files: Mapping[str, list],
    check: Checker,
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Check every item of every group; values as lists, errors by input name."""
    values: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    sent = counts(form, raw)
    for number, section in repeated(form):
        count = sent[number]
        if problem := count_error(section, count):
            errors[f"{COUNT_PREFIX}{number}"] = problem
            count = min(count, section.repeat.max)
        for field in section.fields:
            values[field.name] = []
            for item in range(1, count + 1):
                name = item_name(field.name, item)
                named = dataclasses.replace(field, name=name)
                value, error = check(named, raw.get(name, ""), files.get(name, []))
                if field.type != "file":
                    values[field.name].append(value)
                if error:
                    errors[name] = error
            if field.type == "file":
                del values[field.name]
                _refuse_stray_files(field.name, count, section.repeat, files, errors)
    return values, errors


def _refuse_stray_files(name, count, rule, files, errors) -> None:
    """Refuse a file sent for an item the page did not show.

    Only a forged send has one; kept, it would be sealed for no item.
    """
    for item in range(count + 1, rule.max + 1):
        if any(upload.size for upload in files.get(item_name(name, item), [])):
            errors[item_name(name, item)] = "Zu dieser Datei gibt es keinen Eintrag."


def order_errors(form: "FormDefinition", errors: Mapping[str, str]) -> dict[str, str]:
    """Order messages as their inputs stand on the page, items named first."""
    order: list[str] = []
    for number, section in enumerate(form.sections, start=1):
        if not section.repeat:
            order += [f.name for f in section.fields]
            continue
        order.append(f"{COUNT_PREFIX}{number}")
        for item in range(1, section.repeat.max + 1):
            order += [item_name(f.name, item) for f in section.fields]
    labels = {
        f.name: s.repeat.item for s in form.sections if s.repeat for f in s.fields
    }
    ordered = {}
    for name in order:
        if name not in errors:
            continue
        parts = split_name(name)
        prefix = f"{labels[parts[0]]} {parts[1]}: " if parts else ""
        ordered[name] = prefix + errors[name]
    return ordered


# --- Adding and removing items without script ------------------------------------


@dataclass(frozen=True)
class Change:
    """A request to add or remove an item instead of sending the form."""

    section: int
    remove: int | None


def change_of(raw: Mapping[str, str]) -> Change | None:
    """Read which add or remove button was pressed, if any."""
    action = raw.get(ACTION, "")
    if not action:
        return None
    match = _ACTION.fullmatch(action)
    if match is None:
        raise GroupError("group action")
    if match[1]:
        return Change(int(match[1]), None)
    return Change(int(match[2]), int(match[3]))


def apply_change(
    form: "FormDefinition", raw: Mapping[str, str], change: Change
) -> tuple[dict[str, str], dict[str, str]]:
    """Return the raw values after adding or removing an item, and any refusal.

    Nothing is stored: the values only go back into the re-shown page.
    """
    sections = dict(repeated(form))
    section = sections.get(change.section)
    if section is None:
        raise GroupError("group action names no repeatable section")
    found = counts(form, raw)
    count = min(found[change.section], section.repeat.max)
    values = {k: v for k, v in raw.items() if not is_control(k)}
    values.update({f"{COUNT_PREFIX}{n}": str(c) for n, c in found.items()})
    key = f"{COUNT_PREFIX}{change.section}"
    if change.remove is not None and change.remove > count:
        raise GroupError("group action removes an item the page did not show")
    wanted = count + 1 if change.remove is None else count - 1
    if problem := count_error(section, wanted):
        return values, {key: problem}
    if change.remove is not None:
        for field in section.fields:
            for item in range(change.remove, count):
                later = values.pop(item_name(field.name, item + 1), "")
                values[item_name(field.name, item)] = later
            values.pop(item_name(field.name, count), None)
    values[key] = str(wanted)
    return values, {}


def with_files(
    form: "FormDefinition", values: dict, raw: Mapping[str, str], stored: Sequence
) -> tuple[dict, list[tuple[object, str, int | None]]]:
    """Give each group's file fields a list of file ids, one entry per item.

    Returns the values and, for every stored file, the file with its field
    name and its item's 0-based index (None outside a group).
    """
    values = dict(values)
    sent = counts(form, raw)
    for number, section in repeated(form):
        for field in section.fields:
            if field.type == "file":
                values[field.name] = [None] * sent[number]
    placed = []
    for file in stored:
        parts = split_name(file.field)
        if parts is None:
            placed.append((file, file.field, None))
            continue
        values[parts[0]][parts[1] - 1] = file.file_id
        placed.append((file, parts[0], parts[1] - 1))
    return values, placed


def place_file(values: dict, meta: dict, replacement: str) -> None:
    """Put a receiver's own name for a group's file into its item's entry.

    `meta` is the file's entry of the sealed values; its item's entry must
    hold its file id, else the values were not written by this portal.
    """
    entries = values.get(meta["field"])
    index = meta["index"]
    if (
        not isinstance(entries, list)
        or type(index) is not int
        or not 0 <= index < len(entries)
        or entries[index] != meta["file_id"]
    ):
        raise ValueError("a file's item does not match the values")
    entries[index] = replacement


# --- Values kept as lists, shown on a page ---------------------------------------


def flat_values(form: "FormDefinition", values: Mapping[str, object]) -> dict[str, str]:
    """Spread each group's list values over its items' inputs, as a page sends them.

    A section's count is its longest list; a value outside a group stays.
    """
    flat = {k: v for k, v in values.items() if isinstance(v, str)}
    for number, section in repeated(form):
        lists = [values.get(f.name) for f in section.fields]
        lists = [entries for entries in lists if isinstance(entries, list)]
        if not lists:
            continue
        flat[f"{COUNT_PREFIX}{number}"] = str(max(len(e) for e in lists))
        for field in section.fields:
            entries = values.get(field.name)
            for item, entry in enumerate(entries or [], start=1):
                if isinstance(entry, str):
                    flat[item_name(field.name, item)] = entry
    return flat


def list_problems(
    form: "FormDefinition", values: Mapping[str, object]
) -> list[tuple[str, str]]:
    """Return what is wrong with the shape of pre-filled values, by field name.

    A field of a group takes a list of texts, one per item, at most the
    section's maximum, and the lists of one section are equally long; any
    other field takes one text.
    """
    problems = []
    grouped = grouped_names(form)
    for name, value in values.items():
        if name not in grouped:
            if not isinstance(value, str):
                problems.append((name, "Geben Sie einen Text an, keine Liste."))
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            item = item_of(form, name)
            problems.append(
                (name, f"Geben Sie eine Liste mit einem Text je {item} an.")
            )
    for _, section in repeated(form):
        given = [f.name for f in section.fields if isinstance(values.get(f.name), list)]
        lengths = {len(values[n]) for n in given}
        rule = section.repeat
        if len(lengths) > 1:
            names = ", ".join(given)
            message = f"Die Listen von {names} müssen gleich lang sein."
            problems.append((given[0], message))
        elif lengths and max(lengths) > rule.max:
            message = f"Höchstens {rule.max} × „{rule.item}“."
            problems.append((given[0], message))
    return problems
