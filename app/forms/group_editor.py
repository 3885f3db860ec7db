"""The editor's rules for repeatable sections: the rule's inputs and refusals.

Each section has a box "Wiederholbar" with its bounds, the name of one item
and the texts of the two buttons. What a group may not hold is judged by
groups.group_problems(), the parser's own rules, and said here in German
by input name. Pure code: no I/O.
"""

import re
from collections.abc import Callable

from app.forms.definition import FormDefinition, Section
from app.forms.groups import (
    LINK_CHECK,
    MAX_ITEMS,
    SHOW_IF_INSIDE,
    SHOW_IF_TOWARDS,
    STEPPED,
    GroupProblem,
    Repeat,
    default_labels,
    earlier_labels,
    group_problems,
)

# The bounds a new rule starts with when a clerk ticks the box.
NEW_MIN, NEW_MAX = 1, 5
_WHOLE = re.compile(r"[0-9]{1,2}")
NO_ITEM = "Geben Sie an, wie ein Eintrag heißt, zum Beispiel „Zähler“."
BOUNDS = f"Geben Sie eine ganze Zahl von 1 bis {MAX_ITEMS} an."
BELOW = "„höchstens“ darf nicht kleiner als „mindestens“ sein."
IN_STEPS = (
    "Ein Formular mit Schritten kann keinen wiederholbaren Abschnitt haben: "
    "Die Seiten der Schritte tragen nur einzelne Werte. Lösen Sie zuerst die "
    "Schritte auf."
)
GETS_STEPS = (
    "Ein Formular mit wiederholbarem Abschnitt („{}“) kann keine Schritte "
    "haben: Die Seiten der Schritte tragen nur einzelne Werte. Nehmen Sie "
    "zuerst das Häkchen bei „Wiederholbar“ weg."
)
# Why a field cannot be part of a group, by type (or name): one reason for
# each of groups.REFUSED_TYPES and REFUSED_NAMES.
WHY_NOT = {
    "consent": "Eine Einwilligung wird einmal für die ganze Sendung gegeben.",
    "email": "An die erste E-Mail-Adresse geht die Eingangsbestätigung.",
    "iban": "Die Bankdaten werden auseinander abgeleitet.",
    "bic": "Die Bankdaten werden auseinander abgeleitet.",
    "BANK_NAME": "Die Bankdaten werden auseinander abgeleitet.",
    "BANK_KONTOINHABER": "Ein Konto hat für das Mandat genau einen Inhaber.",
}
SHOW_IF_IN_GROUP = (
    "„{}“ steht in einem wiederholbaren Abschnitt und kann nicht nur unter "
    "einer Bedingung gezeigt werden. Wählen Sie „immer zeigen“."
)
SHOW_IF_TO_GROUP = (
    "„{}“ kann nicht von „{}“ abhängen, das in einem wiederholbaren Abschnitt "
    "steht. Wählen Sie „immer zeigen“."
)
REFUSED = "„{}“ kann nicht in einem wiederholbaren Abschnitt stehen: {}"
LINK_CHECK_FIELD = (
    "„{}“ kann nicht in einem wiederholbaren Abschnitt stehen: Sichere Links "
    "fragen dieses Feld zur Prüfung ab."
)


def inputs(section: Section) -> dict[str, str]:
    """Return what the rule's inputs show for a section, before any edit."""
    rule = section.repeat
    if rule is None:
        blank = {"repeat": "", "repeat_item": "", "repeat_add": "", "repeat_remove": ""}
        return blank | {"repeat_min": str(NEW_MIN), "repeat_max": str(NEW_MAX)}
    return {
        "repeat": "ja",
        "repeat_min": str(rule.min),
        "repeat_max": str(rule.max),
        "repeat_item": rule.item,
        "repeat_add": rule.add_label,
        "repeat_remove": rule.remove_label,
    }


def read(
    key: str,
    base: Repeat | None,
    one: Callable[[str], str],
    text: Callable[[str, str], str],
    errors: dict[str, str],
) -> Repeat | None:
    """Read a section's rule from the page; `key` is its inputs' prefix.

    `one(name)` reads an input as sent, `text(name, required)` a checked text.
    An unticked box means no rule, whatever the other inputs say.
    """
    if one(f"{key}-repeat") != "ja":
        return None
    low = _whole(f"{key}-repeat_min", one, errors)
    high = _whole(f"{key}-repeat_max", one, errors)
    if low and high and high < low:
        errors[f"{key}-repeat_max"] = BELOW
    item = text(f"{key}-repeat_item", NO_ITEM)
    labels = [text(f"{key}-repeat_{kind}", "") for kind in ("add", "remove")]
    if base and item != base.item:
        # Texts left as they followed the old item follow the new one.
        followed = zip(
            default_labels(base.item), earlier_labels(base.item), strict=True
        )
        labels = [
            "" if label in old else label
            for label, old in zip(labels, followed, strict=True)
        ]
    if not (low and high and item) or f"{key}-repeat_max" in errors:
        return None
    return Repeat(low, high, item, *labels)


def _whole(name: str, one: Callable[[str], str], errors: dict[str, str]) -> int:
    written = one(name).strip()
    number = int(written) if _WHOLE.fullmatch(written) else 0
    if not 1 <= number <= MAX_ITEMS:
        errors[name] = BOUNDS
        return 0
    return number


def refusals(base: FormDefinition, form: FormDefinition) -> dict[str, str]:
    """Return, by input name, the rules of repeatable sections `form` breaks.

    `base` is the version the page was opened on: a form that just got its
    first step is refused at the new step's input, not at a section's box.
    """
    errors: dict[str, str] = {}
    problems = group_problems(form.sections, form.link_check, stepped=bool(form.steps))
    for problem in problems:
        name, message = _refusal(problem, base, form)
        errors.setdefault(name, message)
    return errors


def _refusal(
    problem: GroupProblem, base: FormDefinition, form: FormDefinition
) -> tuple[str, str]:
    """Return the input a problem is shown at, and its German message."""
    box = f"section-{problem.section}-repeat"
    if problem.kind == STEPPED:
        if base.steps:
            return box, IN_STEPS
        return "new_step", GETS_STEPS.format(form.sections[problem.section].title)
    field = form.field(problem.field)
    if problem.kind == SHOW_IF_INSIDE:
        return f"{field.name}-show_if", SHOW_IF_IN_GROUP.format(field.label)
    if problem.kind == SHOW_IF_TOWARDS:
        controller = form.field(field.show_if_field).label
        return f"{field.name}-show_if", SHOW_IF_TO_GROUP.format(field.label, controller)
    if problem.kind == LINK_CHECK:
        return box, LINK_CHECK_FIELD.format(field.label)
    why = WHY_NOT.get(field.name) or WHY_NOT[field.type]
    return box, REFUSED.format(field.label, why)
