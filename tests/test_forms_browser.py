"""A new clerk builds, tries out and schedules a form in a real browser."""

import subprocess
import sys
from datetime import date, datetime, timedelta

from app.clock import BERLIN
from app.config import ROOT
from tests.test_conditions import FORM


def next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def month_end(day: date) -> date:
    first_of_next = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first_of_next - timedelta(days=1)


def new_meter_form(page, title: str, slug: str) -> None:
    """Create a meter reading form and add two catalog fields in the editor."""
    page.goto("/admin/forms")
    page.click("text=Neues Formular anlegen")
    page.select_option("#f-record_type", "ZAEHLERSTAND")
    page.fill("#f-title", title)
    page.fill("#f-slug", slug)
    page.click("text=Formular anlegen")
    for name in ("ZAEHLER_NR", "ZAEHLER_STAND"):
        page.select_option("#f-add-0", name)
        page.click("button[value='add:0']")


def test_a_clerk_builds_previews_and_schedules_a_form(page):
    new_meter_form(page, "Umzug melden", "umzug")
    page.fill("#f-ZAEHLER_STAND-label", "Stand heute")
    page.click("button[value='up:ZAEHLER_STAND']")
    page.click("text=Vorschau")
    labels = page.locator("main label").all_inner_texts()
    assert [label.split(" (")[0] for label in labels] == ["Stand heute", "Zählernummer"]

    monday = next_monday(datetime.now(BERLIN).date())
    page.goto("/admin/forms/musterstadt/umzug")
    page.check("#f-start-at")
    page.fill("#f-start_date", monday.isoformat())
    page.fill("#f-start_time", "08:00")
    page.check("#f-until-at")
    page.fill("#f-until_date", month_end(monday).isoformat())
    page.click("button:text('Veröffentlichen')")
    assert page.locator(".alert--success").inner_text() == (
        "Die Veröffentlichung ist gespeichert."
    )
    row = page.locator("#schedule + .table-wrap tbody tr").inner_text()
    assert row.split("\t")[1:3] == [
        f"{monday:%d.%m.%Y}, 08:00 Uhr",
        # An end at midnight is shown as 24:00 of the day it ends, as typed.
        f"{month_end(monday):%d.%m.%Y}, 24:00 Uhr",
    ]
    assert page.locator(".facts .status").inner_text() == "Geplant"


def test_a_conditional_field_shows_once_its_value_is_chosen(browser, server, tmp_path):
    path = tmp_path / "ablesung.yaml"
    path.write_text(FORM, encoding="utf-8")
    subprocess.run(
        [
            sys.executable,
            "run.py",
            "import-form",
            str(path),
            "--data",
            str(server.data),
        ],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    context = browser.new_context(base_url=server.url, locale="de-DE")
    tab = context.new_page()
    tab.goto("/musterstadt/ablesung")
    street = tab.locator("#when-ABNST_STRASSE")
    shown = [street.is_visible()]
    tab.get_by_label("Einzug").check()
    shown.append(street.is_visible())
    tab.get_by_label("Auszug").check()
    shown.append(street.is_visible())
    context.close()
    assert shown == [False, True, False]
