"""The stories of secure links in Chromium: a pre-filled contract, a query."""

import re
import subprocess
import sys
import time
from datetime import timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from app.config import ROOT
from app.forms.checks import today_in_germany
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.images import jpeg_photo, png_photo
from tests.linkhelp import link_path, outbox_files
from tests.test_orders import ORDER, RESULT

CLERK = ("sachbearbeitung", "Rückfrage-im-Browser-2026")
PHONE = {"width": 390, "height": 844}
SUPPLY_FROM = (today_in_germany() + timedelta(days=30)).isoformat()
RECEIPT = re.compile(r"MU-[0-9A-Z]{4}-[0-9A-Z]{4}")
DUE = (today_in_germany() + timedelta(days=10)).isoformat()


@pytest.fixture(scope="module")
def browser():
    """Chromium for this module alone.

    Playwright's sync API runs an event loop in the main thread while it is
    open; kept for the whole session it would stand in the way of every
    asyncio test collected after this module.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"Debian's chromium is missing at {CHROMIUM}: bash .ci/run installs it"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def clerk(browser, server):
    """A logged-in clerk's page in its own browser context."""
    subprocess.run(
        [sys.executable, "run.py", "add-clerk", CLERK[0], "--data", str(server.data)],
        input=CLERK[1] + "\n",
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.goto("/admin/login")
    page.fill("#f-name", CLERK[0])
    page.fill("#f-password", CLERK[1])
    page.click("button:text('Anmelden')")
    yield page
    context.close()


@pytest.fixture
def phone(browser, server):
    """The customer's phone: a small screen, a browser of its own."""
    context = browser.new_context(base_url=server.url, viewport=PHONE)
    yield context.new_page()
    context.close()


def newest_link(server, count: int) -> str:
    """Wait for the count-th mail in the outbox and return its link path."""
    deadline = time.monotonic() + 10
    while len(files := outbox_files(server.data / "outbox")) < count:
        assert time.monotonic() < deadline, "no mail was written"
        time.sleep(0.05)
    return link_path(message_from_bytes(files[-1].read_bytes(), policy=default))


def wait_for_text(page, url: str, text: str) -> None:
    """Reload a page until it shows a text: the receiver works in the background."""
    deadline = time.monotonic() + 10
    page.goto(url)
    while text not in page.content():
        assert time.monotonic() < deadline, f"{url} never showed {text!r}"
        time.sleep(0.1)
        page.reload()


def test_a_pre_filled_contract_goes_out_and_comes_back_as_a_record(
    clerk, phone, server
):
    clerk.goto("/admin/links")
    clerk.click("text=Vorausgefülltes Formular senden")
    clerk.select_option("#f-form", "musterstadt/stromvertrag")
    clerk.click("button:text('Weiter')")
    clerk.fill("#f-recipient", "erika@beispiel.de")
    for name, value in [
        ("KUNDE_VORNAME", "Erika"),
        ("KUNDE_NACHNAME", "Mustermann"),
        ("ABNST_STRASSE", "Hauptstraße"),
        ("ABNST_HAUSNR", "5a"),
        ("ABNST_PLZ", "01067"),
        ("ABNST_ORT", "Dresden"),
        ("ZAEHLER_NR", "1ESY1160523456"),
    ]:
        clerk.fill(f"#f-{name}", value)
    clerk.select_option("#f-VERTRAG_TARIF", "MS-OEKO")
    clerk.click("button:text('Link senden')")
    assert "die E-Mail ist unterwegs" in clerk.content()

    phone.goto(newest_link(server, 1))
    assert "Mustermann" not in phone.content()
    phone.fill("#f-answer", "01067")
    phone.click("button:text('Weiter')")
    assert phone.url.endswith("/formular")
    assert phone.input_value("#f-ABNST_ORT") == "Dresden"
    assert phone.is_checked("input[name=VERTRAG_TARIF][value=MS-OEKO]")
    phone.check("input[name=KUNDE_ANREDE][value='01']")
    phone.fill("#f-KUNDE_GEBURTSDATUM", "1980-04-12")
    phone.fill("#f-KUNDE_EMAIL", "erika@beispiel.de")
    phone.fill("#f-VERBRAUCH_KWH_JAHR", "2500")
    phone.check("input[name=VERTRAG_ANLASS][value='02']")
    phone.fill("#f-VERTRAG_BEGINN", SUPPLY_FROM)
    phone.fill("#f-BANK_KONTOINHABER", "Erika Mustermann")
    phone.fill("#f-BANK_IBAN", "DE02 1203 0000 0000 2020 51")
    for consent in ("SEPA_ZUSTIMMUNG", "AGB_ZUSTIMMUNG", "WIDERRUF_KENNTNIS"):
        phone.check(f"#f-{consent}")
    phone.check("#f-DATENSCHUTZ_KENNTNIS")
    phone.click("button:text('Absenden')")
    receipt = RECEIPT.search(phone.content()).group(0)
    assert "Vielen Dank" in phone.content()

    wait_for_text(clerk, "/admin/links", "Zurückgekommen")
    clerk.goto(f"/admin/records?q={receipt}")
    clerk.click(f"text={receipt}")
    assert "Eingegangen über den Link" in clerk.content()
    assert "Mustermann" in clerk.content()


def send_sepa(phone) -> str:
    phone.goto("/musterstadt/sepa-mandat")
    for name, value in [
        ("BANK_KONTOINHABER", "Erika Mustermann"),
        ("KUNDE_STRASSE", "Hauptstraße"),
        ("KUNDE_HAUSNR", "5a"),
        ("KUNDE_PLZ", "01067"),
        ("KUNDE_ORT", "Dresden"),
        ("BANK_IBAN", "DE02 1203 0000 0000 2020 51"),
    ]:
        phone.fill(f"#f-{name}", value)
    phone.check("#f-SEPA_ZUSTIMMUNG")
    phone.check("#f-DATENSCHUTZ_KENNTNIS")
    phone.click("button:text('Absenden')")
    return RECEIPT.search(phone.content()).group(0)


def test_a_query_comes_back_as_a_revision_of_the_same_record(clerk, phone, server):
    receipt = send_sepa(phone)
    # The search box holds the receipt at once; wait for the record's link.
    wait_for_text(clerk, f"/admin/records?q={receipt}", f">{receipt}</a>")
    clerk.click(f"text={receipt}")
    record_url = clerk.url
    clerk.click("text=Rückfrage stellen")
    clerk.check("#m-KUNDE_ORT")
    clerk.fill("#f-message", "Der Ort passt nicht zur Postleitzahl.")
    clerk.fill("#f-recipient", "erika@beispiel.de")
    clerk.click("button:text('Rückfrage senden')")
    clerk.goto(record_url)
    assert "Wartet auf Rückmeldung" in clerk.content()

    phone.goto(newest_link(server, 1))
    assert "Der Ort passt nicht zur Postleitzahl." in phone.content()
    assert phone.is_visible("#m-KUNDE_ORT")
    assert phone.locator("#f-KUNDE_STRASSE").count() == 0
    phone.fill("#f-KUNDE_ORT", "Leipzig")
    phone.click("button:text('Absenden')")
    assert "Vielen Dank" in phone.content()

    wait_for_text(clerk, record_url, "Leipzig")
    table = clerk.locator("h2:text('Verlauf der Angaben') + h3 + table").inner_text()
    assert "Dresden" in table and "Leipzig" in table
    assert "In Bearbeitung" in clerk.content()


def test_an_order_goes_to_a_provider_and_comes_back_with_photos(
    clerk, phone, server, tmp_path
):
    clerk.goto("/admin/links")
    clerk.click("text=Auftrag an einen Dienstleister")
    clerk.click("button:text('Weiter')")
    clerk.select_option("#f-provider", label="Elektro Beispiel KG")
    for name, value in {**ORDER, "AUFTRAG_TERMIN_BIS": DUE}.items():
        clerk.fill(f"#f-{name}", value)
    clerk.click("button:text('Auftrag senden')")
    assert "Auftrag an Dienstleister" in clerk.content()

    old, new = tmp_path / "alt.jpg", tmp_path / "neu.png"
    old.write_bytes(jpeg_photo())
    new.write_bytes(png_photo())
    phone.goto(newest_link(server, 1))
    assert "<dd>1ESY1160523456</dd>" in phone.content()
    for name, value in RESULT.items():
        phone.fill(f"#f-{name}", value)
    phone.set_input_files("#f-WECHSEL_FOTO_ALT", str(old))
    phone.set_input_files("#f-WECHSEL_FOTO_NEU", str(new))
    phone.click("button:text('Absenden')")
    assert "Vielen Dank" in phone.content()

    wait_for_text(clerk, "/admin/links", "Zurückgekommen")
    clerk.click("tbody a")
    clerk.click("text=zum Beleg")
    assert "1EBZ0100000001" in clerk.content()
    assert clerk.locator(".attachments__item").count() == 2
