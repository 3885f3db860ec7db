"""Two versions of a form side by side: what was added, removed or changed."""

from dataclasses import dataclass

from app.forms.definition import FormDefinition, FormField
from app.forms.steps import section_steps

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
KIND_LABELS = {ADDED: "hinzugefügt", REMOVED: "entfernt", CHANGED: "geändert"}


@dataclass(frozen=True)
class Change:
    """One difference: what it concerns and how it reads in either version."""

    subject: str
    kind: str
    left: str
    right: str


def _yes_no(flag: bool) -> str:
    return "ja" if flag else "nein"


def _size(size: int | None) -> str:
    return "" if size is None else f"{size / 1_000_000:g} MB"


def _field_facts(
    field: FormField, section: str, position: int, step: str = ""
) -> dict[str, str]:
    """Return what a clerk can set on a field, as German text by name."""
    return {
        "Schritt": step,
        "Beschriftung": field.label,
        "Hilfetext": field.help,
        "Platzhalter": field.placeholder,
        "Pflichtfeld": _yes_no(field.required),
        "Auswahl": "; ".join(f"{value} = {label}" for value, label in field.choices),
        "Dateitypen": ", ".join(field.accept),
        "Höchstgröße": _size(field.max_bytes),
        "Abschnitt": section,
        "Position": str(position),
        "Nur wenn": (
            f"{field.show_if_field} = {field.show_if_value}"
            if field.show_if_field
            else ""
        ),
    }


def _fields(form: FormDefinition) -> dict[str, dict[str, str]]:
    facts = {}
    steps = section_steps(form) if form.steps else [""] * len(form.sections)
    for section, step in zip(form.sections, steps, strict=True):
        for position, field in enumerate(section.fields, start=1):
            facts[field.name] = _field_facts(field, section.title, position, step)
    return facts


def _summary(facts: dict[str, str]) -> str:
    required = " (Pflichtfeld)" if facts["Pflichtfeld"] == "ja" else ""
    return f"{facts['Beschriftung']}{required}, Abschnitt „{facts['Abschnitt']}“"


def _form_facts(form: FormDefinition) -> dict[str, str]:
    return {
        "Titel": form.title,
        "Belegart": form.record_type,
        "Einleitung": form.intro,
        "Höchstgröße einer Sendung": _size(form.max_submission_bytes),
        "Nur über sichere Links": "ja" if form.links_only else "nein",
        "Abschnitte": " | ".join(section.title for section in form.sections),
        "Schritte": " | ".join(
            f"{step.title} ({step.size} Abschnitt{'' if step.size == 1 else 'e'})"
            for step in form.steps
        ),
        "Wiederholbare Abschnitte": " | ".join(
            f"{s.title}: {s.repeat.min} bis {s.repeat.max} × {s.repeat.item} "
            f"(Knöpfe „{s.repeat.add_label}“, „{s.repeat.remove_label}“)"
            for s in form.sections
            if s.repeat
        ),
    }


def compare(left: FormDefinition, right: FormDefinition) -> list[Change]:
    """List every difference from `left` to `right`, form first, then fields."""
    changes = [
        Change(subject, CHANGED, before, after)
        for subject, before, after in _pairs(_form_facts(left), _form_facts(right))
    ]
    old, new = _fields(left), _fields(right)
    for name in [*old, *(n for n in new if n not in old)]:
        if name not in new:
            changes.append(Change(name, REMOVED, _summary(old[name]), ""))
        elif name not in old:
            changes.append(Change(name, ADDED, "", _summary(new[name])))
        else:
            changes += [
                Change(f"{name}: {subject}", CHANGED, before, after)
                for subject, before, after in _pairs(old[name], new[name])
            ]
    return changes


def _pairs(old: dict[str, str], new: dict[str, str]) -> list[tuple[str, str, str]]:
    return [(key, old[key], new[key]) for key in old if old[key] != new[key]]
