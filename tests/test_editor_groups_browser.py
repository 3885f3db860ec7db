"""A clerk makes a section repeatable in Chromium and tries it in the preview."""

from tests.test_forms_browser import new_meter_form


def meter(page, number: int):
    """Return the meter number's input of one item, found by its legend."""
    item = page.get_by_role("group", name=f"Messstelle {number}", exact=True)
    return item.get_by_label("Zählernummer (optional)", exact=True)


def test_a_clerk_makes_a_section_repeatable_and_adds_an_item_in_the_preview(page):
    new_meter_form(page, "Zähler melden", "zaehler")
    page.check("#f-section-0-repeat")
    page.fill("#f-section-0-repeat_max", "3")
    page.fill("#f-section-0-repeat_item", "Messstelle")
    page.fill("#f-section-0-repeat_add", "Weitere Messstelle hinzufügen")
    page.click("button[value='save']>> nth=0")
    assert page.locator(".alert--success").inner_text() == (
        "Der Entwurf ist gespeichert."
    )

    page.click("text=Vorschau")
    meter(page, 1).fill("AAA111")
    page.get_by_role("button", name="Weitere Messstelle hinzufügen").click()

    assert (meter(page, 1).input_value(), meter(page, 2).input_value()) == (
        "AAA111",
        "",
    )
    remove = page.get_by_role("button", name="Messstelle entfernen (Messstelle 2)")
    assert remove.count() == 1
