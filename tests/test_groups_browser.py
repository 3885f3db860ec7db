"""A customer with several meters adds and removes items in Chromium, no script."""

from tests import test_browser
from tests.images import png_photo
from tests.test_browser import add_clerk, box, open_record

# The two browsers of the customer and the clerk, each with its own cookies.
customer = test_browser.customer
clerk = test_browser.clerk

METERS = "/musterstadt/zaehlerstaende"


def item(page, number: int):
    """Return the fieldset of one meter, found by its legend."""
    return page.get_by_role("group", name=f"Zähler {number}", exact=True)


def type_meter(page, number: int, meter: str, reading: str) -> None:
    item(page, number).get_by_label("Zählernummer", exact=True).fill(meter)
    item(page, number).get_by_label("Zählerstand", exact=True).fill(reading)


def meter_of(page, number: int) -> str:
    return item(page, number).get_by_label("Zählernummer", exact=True).input_value()


def test_a_customer_adds_removes_and_adds_a_meter_then_sends(
    served, customer, clerk, tmp_path
):
    photo = tmp_path / "zweiter.png"
    photo.write_bytes(png_photo())
    customer.goto(f"{served.url}{METERS}")
    box(customer, "Kundennummer").fill("100234")
    box(customer, "Ablesedatum").fill("2026-11-30")
    type_meter(customer, 1, "AAA111", "111")
    customer.get_by_role("button", name="Weiteren Zähler hinzufügen").click()
    assert (meter_of(customer, 1), meter_of(customer, 2)) == ("AAA111", "")
    type_meter(customer, 2, "BBB222", "222")

    item(customer, 1).get_by_role("button", name="Diesen Zähler entfernen").click()
    assert meter_of(customer, 1) == "BBB222"
    assert item(customer, 2).count() == 0
    assert box(customer, "Kundennummer").input_value() == "100234"

    customer.get_by_role("button", name="Weiteren Zähler hinzufügen").click()
    type_meter(customer, 2, "CCC333", "333")
    item(customer, 2).get_by_label("Foto des Zählers (optional)").set_input_files(photo)
    # Enter sends the form; it does not press the first add or remove button.
    item(customer, 2).get_by_label("Zählerstand", exact=True).press("Enter")
    receipt = customer.locator(".panel__receipt").inner_text()

    add_clerk(served)
    open_record(clerk, served, receipt)
    items = clerk.locator("ul.items li").all_inner_texts()
    assert items[:2] == ["Zähler 1: BBB222", "Zähler 2: CCC333"]
    assert "Zähler 2: zweiter.png" in items
