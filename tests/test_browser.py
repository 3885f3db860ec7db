"""A customer fills each demo form in Chromium; a clerk then finds the record."""

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from PIL import Image
from PIL.ExifTags import IFD

from app.config import ROOT
from app.forms.checks import today_in_germany
from tests.images import jpeg_photo

CLERK_NAME = "sachbearbeitung"
CLERK_PASSWORD = "Zählerstand-im-Keller-2026"
RECEIPT = re.compile(r"MU-[0-9A-Z]{4}-[0-9A-Z]{4}")
PHOTO_NAME = "zaehler.jpg"
TODAY = today_in_germany()
# Days away from today, so that no time zone turns "today" into the future.
READ_ON = (TODAY - timedelta(days=3)).isoformat()
SUPPLY_FROM = (TODAY + timedelta(days=30)).isoformat()
WRONG_IBAN = "DE02 1203 0000 0000 2020 52"

# What a person does on each form, in page order: type into a labelled box,
# choose an option inside a labelled group, tick a consent, pick a file.
SEPA_STEPS = [
    ("type", "Kundennummer (optional)", "100234"),
    ("type", "Kontoinhaber (Vor- und Nachname)", "Erika Mustermann"),
    ("type", "Straße", "Hauptstraße"),
    ("type", "Hausnummer", "5a"),
    ("type", "Postleitzahl", "01067"),
    ("type", "Ort", "Dresden"),
    ("type", "IBAN", "DE02 1203 0000 0000 2020 51"),
    ("tick", "Ich erteile das SEPA-Lastschriftmandat", None),
    ("tick", "Ich habe die Datenschutzhinweise gelesen", None),
]
METER_STEPS = [
    ("type", "Kundennummer", "100234"),
    ("type", "Zählernummer", "1ESY1160523456"),
    ("type", "Zählerstand", "012345,6"),
    ("type", "Ablesedatum", READ_ON),
    ("file", "Foto des Zählers", None),
    ("type", "E-Mail-Adresse (optional)", "erika@example.org"),
]
# The supply contract is asked in four steps; "next" goes on to the next one,
# and after the last the check page lists every answer before the send.
CONTRACT_STEPS = [
    ("choose", "Tarif", "Musterstadt Strom Öko"),
    ("choose", "Anlass des Vertrags", "Ich ziehe ein oder um."),
    ("type", "Gewünschter Lieferbeginn", SUPPLY_FROM),
    ("next", "Weiter", None),
    ("choose", "Anrede", "Frau"),
    ("type", "Vorname", "Erika"),
    ("type", "Nachname", "Mustermann"),
    ("type", "Geburtsdatum", "1980-04-12"),
    ("type", "E-Mail-Adresse", "erika@example.org"),
    ("type", "Telefonnummer (optional)", "0351 123456"),
    ("next", "Weiter", None),
    ("type", "Straße", "Hauptstraße"),
    ("type", "Hausnummer", "5a"),
    ("type", "Postleitzahl", "01067"),
    ("type", "Ort", "Dresden"),
    ("type", "Zählernummer", "1ESY1160523456"),
    ("type", "Jahresverbrauch in kWh", "2.500"),
    ("next", "Weiter", None),
    ("type", "Kontoinhaber (Vor- und Nachname)", "Erika Mustermann"),
    ("type", "IBAN", "DE02 1203 0000 0000 2020 51"),
    ("tick", "Ich erteile das SEPA-Lastschriftmandat", None),
    (
        "tick",
        "Ich stimme den Allgemeinen Geschäftsbedingungen und den Preisen zu",
        None,
    ),
    ("tick", "Ich habe die Widerrufsbelehrung gelesen", None),
    ("tick", "Ich habe die Datenschutzhinweise gelesen", None),
    ("next", "Weiter zur Prüfung", None),
]

# slug: (link title on the tenant's page, steps, values the clerk must see;
# a choice shows its MODWORK code with the text the customer chose)
FORMS = {
    "sepa-mandat": (
        "SEPA-Lastschriftmandat",
        SEPA_STEPS,
        {
            "KUNDE_NR": "100234",
            "BANK_KONTOINHABER": "Erika Mustermann",
            "KUNDE_STRASSE": "Hauptstraße",
            "KUNDE_PLZ": "01067",
            "BANK_IBAN": "DE02120300000000202051",
            "BANK_BIC": "BYLADEM1001",
            "SEPA_ZUSTIMMUNG": "ja",
        },
    ),
    "zaehlerstand": (
        "Zählerstand melden",
        METER_STEPS,
        {
            "KUNDE_NR": "100234",
            "ZAEHLER_NR": "1ESY1160523456",
            "ZAEHLER_STAND": "012345.6",
            "ZAEHLER_ABLESEDATUM": READ_ON,
            "KUNDE_EMAIL": "erika@example.org",
        },
    ),
    "stromvertrag": (
        "Stromvertrag abschließen",
        CONTRACT_STEPS,
        {
            "VERTRAG_TARIF": (
                "MS-OEKO (Musterstadt Strom Öko: 34,9 ct/kWh, Grundpreis 12,50 € "
                "im Monat)"
            ),
            "KUNDE_ANREDE": "01 (Frau)",
            "KUNDE_GEBURTSDATUM": "1980-04-12",
            "ABNST_PLZ": "01067",
            "VERBRAUCH_KWH_JAHR": "2500",
            "VERTRAG_ANLASS": "02 (Ich ziehe ein oder um.)",
            "VERTRAG_BEGINN": SUPPLY_FROM,
            "BANK_IBAN": "DE02120300000000202051",
            "AGB_ZUSTIMMUNG": "ja",
        },
    ),
}
NARROW_PAGES = [
    "/musterstadt/",
    "/musterstadt/sepa-mandat",
    "/musterstadt/zaehlerstand",
    "/musterstadt/stromvertrag",
    "/admin/login",
]
VIEWPORT = "width=device-width, initial-scale=1"
MEASURE = """[
    document.querySelector('meta[name="viewport"]')?.content,
    document.documentElement.scrollWidth - document.documentElement.clientWidth,
]"""


def _page(browser):
    """Open a page in a fresh browser profile: own cookies, downloads allowed."""
    context = browser.new_context(accept_downloads=True, locale="de-DE")
    context.set_default_timeout(5000)
    yield context.new_page()
    context.close()


@pytest.fixture
def customer(browser):
    """The customer's browser."""
    yield from _page(browser)


@pytest.fixture
def clerk(browser):
    """The clerk's browser, which shares no cookie with the customer's."""
    yield from _page(browser)


@pytest.fixture
def photo(tmp_path):
    """A phone photo of the meter, with GPS in its Exif, saved as a file."""
    path = tmp_path / PHOTO_NAME
    path.write_bytes(jpeg_photo())
    return path


def box(page, label: str):
    """Find an input by its label; a section titled alike is not an input."""
    return page.get_by_label(label, exact=True).and_(page.locator("input"))


def consent(page, label: str):
    """Find the box of a consent, whose question is its group's legend."""
    group = page.get_by_role("group", name=label, exact=True)
    return group.get_by_label("Ja", exact=True)


def fill(page, steps, photo=None) -> None:
    """Fill a form the way a person does, finding every input by its label."""
    for action, label, value in steps:
        if action == "type":
            box(page, label).fill(value)
        elif action == "choose":
            group = page.get_by_role("group", name=label, exact=True)
            group.get_by_label(value).check()
        elif action == "tick":
            consent(page, label).check()
        elif action == "file":
            box(page, label).set_input_files(photo)
        elif action == "next":
            page.get_by_role("button", name=label, exact=True).click()


def send_in_browser(page, server, slug: str, photo, shots) -> str:
    """Follow a form's link from the tenant's page, fill it, send it: the receipt."""
    title, steps, _ = FORMS[slug]
    page.goto(f"{server.url}/musterstadt/")
    page.get_by_role("link", name=title, exact=True).click()
    fill(page, steps, photo)
    page.screenshot(path=shots / f"{slug}.png", full_page=True)
    page.get_by_role("button", name="Absenden").click()
    return page.locator(".panel__receipt").inner_text()


def add_clerk(server) -> None:
    """Create the clerk with the command an admin runs, password on stdin."""
    subprocess.run(
        [sys.executable, "run.py", "add-clerk", CLERK_NAME, "--data", str(server.data)],
        cwd=ROOT,
        input=CLERK_PASSWORD + "\n",
        text=True,
        capture_output=True,
        check=True,
        timeout=30,
    )


def open_record(page, server, receipt: str) -> None:
    """Log in as the clerk, search the receipt number and open its record."""
    page.goto(f"{server.url}/admin/login")
    box(page, "Name").fill(CLERK_NAME)
    box(page, "Passwort").fill(CLERK_PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    box(page, "Eingangsnummer").fill(receipt)
    page.get_by_role("button", name="Suchen").click()
    page.get_by_role("link", name=receipt, exact=True).click()


def shown_values(page) -> dict[str, str]:
    """Read the record's table of values as MODWORK field name to value."""
    rows = page.locator("table.table--values tbody tr")
    return {
        row.locator("code").inner_text(): row.locator("td").inner_text()
        for row in rows.all()
    }


def send_wrong_iban(page, server) -> list[tuple[str, str, str | None]]:
    """Fill the SEPA mandate fully but with wrong IBAN check digits, and send."""
    steps = [
        (action, label, WRONG_IBAN if label == "IBAN" else value)
        for action, label, value in SEPA_STEPS
    ]
    page.goto(f"{server.url}/musterstadt/sepa-mandat")
    fill(page, steps)
    page.get_by_role("button", name="Absenden").click()
    return steps


@pytest.mark.parametrize("slug", FORMS)
def test_sent_form_reaches_the_clerk_with_its_values(
    slug, served, customer, clerk, photo, tmp_path
):
    receipt = send_in_browser(customer, served, slug, photo, tmp_path)
    assert RECEIPT.fullmatch(receipt)
    add_clerk(served)
    open_record(clerk, served, receipt)
    assert clerk.locator("h1 .receipt").inner_text() == receipt
    shown = shown_values(clerk)
    expected = FORMS[slug][2]
    assert {name: shown.get(name) for name in expected} == expected


def test_clerk_downloads_the_meter_photo_without_gps(
    served, customer, clerk, photo, tmp_path
):
    receipt = send_in_browser(customer, served, "zaehlerstand", photo, tmp_path)
    add_clerk(served)
    open_record(clerk, served, receipt)
    with clerk.expect_download() as started:
        clerk.get_by_role("link", name=f"Foto des Zählers: {PHOTO_NAME}").click()
    download = started.value
    with Image.open(download.path()) as image:
        gps = dict(image.getexif().get_ifd(IFD.GPSInfo))
        found = (image.format, image.size, gps, image.info.get("xmp"))
    assert download.suggested_filename == PHOTO_NAME
    assert found == ("JPEG", (64, 48), {}, None)


def test_wrong_iban_shows_the_summary_linked_to_the_field(served, customer):
    send_wrong_iban(customer, served)
    summary = customer.get_by_role("alert")
    heading = summary.get_by_role("heading").inner_text()
    links = summary.get_by_role("link")
    assert (heading, links.all_inner_texts()) == (
        "Bitte prüfen Sie Ihre Angaben",
        ["Die IBAN ist ungültig: die Prüfziffer stimmt nicht."],
    )
    links.click()
    iban = box(customer, "IBAN")
    assert customer.evaluate("location.hash") == f"#{iban.get_attribute('id')}"
    assert iban.get_attribute("aria-invalid") == "true"


def test_refused_form_keeps_what_was_typed(served, customer):
    steps = send_wrong_iban(customer, served)
    typed = {label: value for action, label, value in steps if action == "type"}
    kept = {label: box(customer, label).input_value() for label in typed}
    ticked = [
        consent(customer, label).is_checked() for a, label, _ in steps if a == "tick"
    ]
    assert (kept, ticked) == (typed, [True, True])


def test_pages_fit_a_phone_375_pixels_wide_without_scrolling_sideways(served, browser):
    phone = browser.new_context(
        viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = phone.new_page()
    measured = {}
    for path in NARROW_PAGES:
        page.goto(served.url + path)
        measured[path] = page.evaluate(MEASURE)
    send_wrong_iban(page, served)
    measured["refused"] = page.evaluate(MEASURE)
    phone.close()
    assert measured == {path: [VIEWPORT, 0] for path in [*NARROW_PAGES, "refused"]}
