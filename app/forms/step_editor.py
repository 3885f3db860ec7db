"""The editor's rules for steps: add, rename, remove, and move sections across.

A stepped form's steps cover its sections in order, so a step is a title
and a count. Moving a section into the step before or after shifts the
border between two steps; the sections keep their order. Pure code: no
I/O, German messages by input name.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from app.forms.definition import FormDefinition, Section, Step
from app.forms.steps import resized

NO_TITLE = "Geben Sie dem Schritt einen Titel."
NO_SUCH = "Diesen Abschnitt oder Schritt gibt es nicht."


class StepRefused(Exception):
    """A step action that cannot be done; `errors` says why, by input name."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(f"{len(errors)} inputs refused")
        self.errors = errors


@dataclass(frozen=True)
class Mark:
    """Where a section stands among the steps, for the editor's buttons."""

    step: int
    first: bool
    last: bool


def marks(form: FormDefinition) -> list[Mark]:
    """Return, for each section in order, its step and place in that step."""
    found = []
    for number, step in enumerate(form.steps):
        for position in range(step.size):
            found.append(Mark(number, position == 0, position == step.size - 1))
    return found


def read_titles(
    form: FormDefinition, text: Callable[[str, str], str]
) -> tuple[Step, ...]:
    """Read each step's title from the page; `text(name, required)` reads one."""
    return tuple(
        Step(text(f"step-{index}-title", NO_TITLE), step.size)
        for index, step in enumerate(form.steps)
    )


def act(
    form: FormDefinition, verb: str, target: str, new_title: str
) -> FormDefinition | None:
    """Do a step action, or a section action of a stepped form; else None."""
    if verb == "step_add":
        return _add_step(form, new_title.strip())
    if not form.steps or verb not in _SECTION_ACTIONS:
        return None
    index = _index(target, len(form.steps if verb == "step_remove" else form.sections))
    return _SECTION_ACTIONS[verb](form, index)


def _index(target: str, count: int) -> int:
    if not target.isdigit() or int(target) >= count:
        raise StepRefused({"action": NO_SUCH})
    return int(target)


def _add_step(form: FormDefinition, title: str) -> FormDefinition:
    """Add a step with an empty section; a form without steps becomes step 1."""
    if not title:
        raise StepRefused({"new_step": NO_TITLE})
    if not form.steps:
        return dataclasses.replace(form, steps=(Step(title, len(form.sections)),))
    sections = (*form.sections, Section(title, "", ()))
    return dataclasses.replace(
        form, sections=sections, steps=(*form.steps, Step(title, 1))
    )


def _remove_step(form: FormDefinition, index: int) -> FormDefinition:
    """Give a step's sections to the step before it (the first: to the next)."""
    if len(form.steps) == 1:
        return dataclasses.replace(form, steps=())
    other = index - 1 if index else 1
    steps = resized(form.steps, other, form.steps[index].size)
    return dataclasses.replace(form, steps=steps[:index] + steps[index + 1 :])


def _shift(form: FormDefinition, index: int, change: int) -> FormDefinition:
    """Move a section at a step's edge into the step before (-1) or after (+1)."""
    mark = marks(form)[index]
    edge = mark.first if change < 0 else mark.last
    other = mark.step + change
    if not edge or not 0 <= other < len(form.steps):
        raise StepRefused({"action": NO_SUCH})
    if form.steps[mark.step].size == 1:
        reason = "Ein Schritt braucht einen Abschnitt. Entfernen Sie den Schritt."
        raise StepRefused({f"section-{index}-title": reason})
    steps = resized(resized(form.steps, mark.step, -1), other, 1)
    return dataclasses.replace(form, steps=steps)


def _swap(form: FormDefinition, index: int, change: int) -> FormDefinition:
    """Swap a section with its neighbour inside the same step."""
    other = index + change
    found = marks(form)
    if not 0 <= other < len(found) or found[other].step != found[index].step:
        return form
    sections = list(form.sections)
    sections[index], sections[other] = sections[other], sections[index]
    return dataclasses.replace(form, sections=tuple(sections))


def _remove_section(form: FormDefinition, index: int) -> FormDefinition:
    mark = marks(form)[index]
    if form.sections[index].fields or form.steps[mark.step].size == 1:
        reason = (
            "Entfernen oder verschieben Sie zuerst die Felder dieses Abschnitts; "
            "ein Schritt braucht einen Abschnitt."
        )
        raise StepRefused({f"section-{index}-title": reason})
    sections = form.sections[:index] + form.sections[index + 1 :]
    steps = resized(form.steps, mark.step, -1)
    return dataclasses.replace(form, sections=sections, steps=steps)


_SECTION_ACTIONS = {
    "step_remove": _remove_step,
    "section_prev": lambda form, index: _shift(form, index, -1),
    "section_next": lambda form, index: _shift(form, index, 1),
    "section_up": lambda form, index: _swap(form, index, -1),
    "section_down": lambda form, index: _swap(form, index, 1),
    "section_remove": _remove_section,
}


def add_section(form: FormDefinition, title: str) -> FormDefinition:
    """Append a section to the last step of a stepped form."""
    sections = (*form.sections, Section(title, "", ()))
    steps = resized(form.steps, len(form.steps) - 1, 1) if form.steps else ()
    return dataclasses.replace(form, sections=sections, steps=steps)
