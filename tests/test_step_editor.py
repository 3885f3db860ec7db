"""Steps in the editor: added, renamed, dissolved, sections moved across."""

import re

import pytest

from app.forms import editor
from app.forms.definition import Step, load_definition_file
from app.forms.editor import EditRefused, Posted
from tests.admin_helpers import log_in_clerk, page_text, post
from tests.test_editor import DEMO_FORMS, MAX_FILE, catalog, meter, page_of

__all__ = ["catalog", "meter"]
CONTRACT_ADMIN = "/admin/forms/musterstadt/stromvertrag"


@pytest.fixture(scope="module")
def contract(catalog):
    return load_definition_file(DEMO_FORMS / "stromvertrag.yaml", catalog)


def apply(form, catalog, **changes):
    page = page_of(form)
    for index, step in enumerate(form.steps):
        page[f"step-{index}-title"] = [step.title]
    page.update({key: [value] for key, value in changes.items()})
    return editor.apply(form, Posted(page), catalog, MAX_FILE)


def sizes(form) -> list[int]:
    return [step.size for step in form.steps]


def test_an_unchanged_stepped_page_gives_the_same_definition(contract, catalog):
    assert apply(contract, catalog) == contract


def test_a_first_step_takes_every_section_of_a_form(meter, catalog):
    stepped = apply(meter, catalog, action="step_add", new_step="Ihr Zähler")

    assert stepped.steps == (Step("Ihr Zähler", len(meter.sections)),)
    assert stepped.sections == meter.sections


def test_a_further_step_starts_with_an_empty_section(contract, catalog):
    stepped = apply(contract, catalog, action="step_add", new_step="Extras")

    assert sizes(stepped) == [2, 2, 1, 2, 1]
    assert (stepped.sections[-1].title, stepped.sections[-1].fields) == ("Extras", ())


def test_a_step_is_renamed_by_its_title(contract, catalog):
    renamed = apply(contract, catalog, **{"step-2-title": "Wo wir liefern"})

    assert renamed.steps[2] == Step("Wo wir liefern", 1)


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        ({"step-1-title": " "}, "step-1-title"),
        ({"action": "step_add", "new_step": ""}, "new_step"),
        ({"action": "section_next:4"}, "section-4-title"),
        ({"action": "section_next:0"}, "action"),
        ({"action": "section_prev:0"}, "action"),
        ({"action": "step_remove:9"}, "action"),
        ({"action": "section_remove:0"}, "section-0-title"),
    ],
)
def test_a_step_action_that_cannot_be_done_is_refused(contract, catalog, changes, name):
    with pytest.raises(EditRefused) as refused:
        apply(contract, catalog, **changes)
    assert list(refused.value.errors) == [name]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("section_next:1", [1, 3, 1, 2]),
        ("section_prev:2", [3, 1, 1, 2]),
        ("step_remove:2", [2, 3, 2]),
        ("step_remove:0", [4, 1, 2]),
    ],
)
def test_moving_a_section_across_shifts_the_border_between_steps(
    contract, catalog, action, expected
):
    moved = apply(contract, catalog, action=action)

    assert sizes(moved) == expected
    assert moved.sections == contract.sections


def test_section_buttons_stay_inside_their_step(contract, catalog):
    swapped = apply(contract, catalog, action="section_down:0")
    kept = apply(contract, catalog, action="section_down:1")

    assert [s.title for s in swapped.sections[:2]] == ["Lieferbeginn", "Ihr Tarif"]
    assert kept == contract


def test_a_new_section_joins_the_last_step(contract, catalog):
    added = apply(contract, catalog, action="section_add", new_section="Hinweise")

    assert sizes(added) == [2, 2, 1, 3]
    assert added.sections[-1].title == "Hinweise"


def test_dissolving_the_only_step_gives_a_form_of_one_page(meter, catalog):
    stepped = apply(meter, catalog, action="step_add", new_step="Alles")

    assert apply(stepped, catalog, action="step_remove:0").steps == ()


async def test_the_editor_page_renames_a_step_and_the_preview_shows_the_steps(client):
    token = await log_in_clerk(client)
    page = await page_text(client, f"{CONTRACT_ADMIN}/edit")
    assert 'name="step-3-title"' in page
    # Text inputs only: a browser sends no box that is not ticked.
    fields = dict(
        re.findall(r'class="input" [^>]*name="([^"]+)"\s+value="([^"]*)"', page)
    )
    fields["base"] = re.search(r'name="base" value="(\d+)"', page).group(1)
    fields |= {"step-2-title": "<b>Lieferstelle</b>", "action": "save"}

    answer = await post(client, f"{CONTRACT_ADMIN}/edit", token, fields)

    assert answer.status == 303, await answer.text()
    preview = await page_text(client, f"{CONTRACT_ADMIN}/preview")
    assert "Schritt 1 von 4: Tarif und Lieferbeginn" in preview
    assert "Schritt 3 von 4: &lt;b&gt;Lieferstelle&lt;/b&gt;" in preview
