"""Stepped forms: the pages of a definition and what each step holds.

A definition's `steps` group its sections, in order, into pages. A form
without steps is one page. Pure code: no I/O.
"""

import dataclasses
from dataclasses import dataclass

from app.forms.definition import FormDefinition, FormField, Section, Step


@dataclass(frozen=True)
class Page:
    """One step of a form: its title and its sections."""

    title: str
    sections: tuple[Section, ...]

    @property
    def fields(self) -> tuple[FormField, ...]:
        """Return the step's fields in page order."""
        return tuple(field for section in self.sections for field in section.fields)


def pages(form: FormDefinition) -> tuple[Page, ...]:
    """Return the steps of a form; a form without steps is one page."""
    if not form.steps:
        return (Page(form.title, form.sections),)
    found, start = [], 0
    for step in form.steps:
        found.append(Page(step.title, form.sections[start : start + step.size]))
        start += step.size
    return tuple(found)


def section_steps(form: FormDefinition) -> list[str]:
    """Return, for each section in order, the title of the step it belongs to."""
    return [page.title for page in pages(form) for _ in page.sections]


# Limitation: the clerks' preview shows a stepped form on one page with its
# steps as headings, not page by page with the check page, so a test send
# from the preview does not try the step pages themselves.
def step_heads(form: FormDefinition) -> dict[int, str]:
    """Return the heading over each section that begins a step, by its index."""
    heads, start = {}, 0
    count = len(form.steps)
    for number, step in enumerate(form.steps, start=1):
        heads[start] = progress(number, count, step.title)
        start += step.size
    return heads


def progress(number: int, count: int, title: str) -> str:
    """Say in German where a step stands: "Schritt 2 von 4: Lieferstelle"."""
    return f"Schritt {number} von {count}: {title}"


def up_to(form: FormDefinition, index: int) -> FormDefinition:
    """Return the form cut after step `index`, as one page, for checking it."""
    kept = sum(step.size for step in form.steps[: index + 1])
    return dataclasses.replace(form, sections=form.sections[:kept], steps=())


def only(form: FormDefinition, index: int) -> FormDefinition:
    """Return the form with the sections of step `index` alone, as one page."""
    return dataclasses.replace(form, sections=pages(form)[index].sections, steps=())


def resized(steps: tuple[Step, ...], index: int, change: int) -> tuple[Step, ...]:
    """Return the steps with one step's count of sections changed."""
    step = steps[index]
    return (
        *steps[:index],
        Step(step.title, step.size + change),
        *steps[index + 1 :],
    )
