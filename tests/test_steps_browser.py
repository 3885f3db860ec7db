"""A customer walks the stepped supply contract in Chromium, changes, and sends."""

import re

from tests.test_browser import (
    CONTRACT_STEPS,
    RECEIPT,
    add_clerk,
    box,
    clerk,
    customer,
    fill,
    open_record,
    shown_values,
)

__all__ = ["clerk", "customer"]
CHANGING_SUPPLIER = "Ich wechsle von meinem bisherigen Stromanbieter zu Ihnen."
MOVING = "Ich ziehe ein oder um."


def pages(steps) -> list[list]:
    """Cut the contract's actions into its pages, each ending with its button."""
    found, page = [], []
    for step in steps:
        page.append(step)
        if step[0] == "next":
            found.append(page)
            page = []
    return found


def progress(page) -> str:
    return page.locator("p.progress").inner_text()


def test_a_customer_changes_an_answer_on_the_check_page_and_sends(
    served, customer, clerk
):
    first, second, third, fourth = pages(CONTRACT_STEPS)
    customer.goto(f"{served.url}/musterstadt/stromvertrag")
    assert progress(customer) == "Schritt 1 von 4: Tarif und Lieferbeginn"
    switching = [
        (a, lab, CHANGING_SUPPLIER if lab == "Anlass des Vertrags" else v)
        for a, lab, v in first
    ]
    fill(customer, switching + second)

    # The supplier to cancel is asked for because of the answer on step 1.
    assert progress(customer) == "Schritt 3 von 4: Lieferstelle"
    fill(customer, [("type", "Bisheriger Stromanbieter", "Stromhaus <Nord>")])
    fill(customer, third + fourth)
    assert customer.get_by_role("heading", name="Schritt 3: Lieferstelle").is_visible()
    assert customer.get_by_text("Stromhaus <Nord>").is_visible()

    customer.get_by_role("button", name=re.compile("^Ändern.*Tarif und")).click()
    assert customer.get_by_label(CHANGING_SUPPLIER).is_checked()
    customer.get_by_label(MOVING).check()
    customer.get_by_role("button", name="Weiter", exact=True).click()
    assert box(customer, "Vorname").input_value() == "Erika"
    customer.get_by_role("button", name="Weiter", exact=True).click()
    assert customer.get_by_label("Bisheriger Stromanbieter").count() == 0
    assert box(customer, "Ort").input_value() == "Dresden"
    customer.get_by_role("button", name="Weiter", exact=True).click()
    customer.get_by_role("button", name="Weiter zur Prüfung", exact=True).click()
    assert customer.get_by_text("Stromhaus <Nord>").count() == 0
    customer.get_by_role("button", name="Absenden").click()

    receipt = customer.locator(".panel__receipt").inner_text()
    assert RECEIPT.fullmatch(receipt)
    add_clerk(served)
    open_record(clerk, served, receipt)
    shown = shown_values(clerk)
    assert (shown["VERTRAG_ANLASS"], shown.get("VORVERSORGER")) == (
        "02 (Ich ziehe ein oder um.)",
        None,
    )
    assert (shown["KUNDE_VORNAME"], shown["ABNST_ORT"]) == ("Erika", "Dresden")
