"""Edges of the form work a tester found: odd sizes, control characters, far
dates, a record type changed by import, deletion and test sends."""

import pytest

from app.commands import publish_definition
from app.control import ControlError
from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.definition import DefinitionError, parse_definition
from app.forms.editor import EditRefused
from app.keys import BACKOFFICE, CONFIG, PORTAL, TENANTS
from app.localtime import LocalTimeError, from_iso, german_end
from tests.admin_helpers import ADMIN, log_in_clerk, page_text, post
from tests.conftest import form_data, open_form, run_py, send, wait_until_taken
from tests.images import png_photo
from tests.linkhelp import outbox_files, wait_for_mails
from tests.test_editor import apply, meter  # noqa: F401 (a fixture)
from tests.test_form_pages import EDIT, NEW, editor_page
from tests.test_submission import GOOD_METER, GOOD_SEPA, METER

FORM = """\
tenant: musterstadt
slug: umzug
title: {title}
record_type: {record_type}
sections:
  - title: Zähler
    fields:
      - field: ZAEHLER_NR
"""


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG_PATH)


@pytest.mark.parametrize("typed", ["1e200000", "NaN", "Infinity", "12345", "1.234"])
def test_a_file_size_that_is_no_plain_number_is_refused_at_once(
    meter,  # noqa: F811
    catalog,
    typed,
):
    with pytest.raises(EditRefused) as refused:
        apply(meter, catalog, **{"ZAEHLER_FOTO-max_mb": typed})
    assert refused.value.errors == {
        "ZAEHLER_FOTO-max_mb": "Geben Sie eine Größe über 0 und höchstens 10 MB an."
    }


@pytest.mark.parametrize(
    ("title", "code"), [("A\\x00B", "U+0000"), ("A\\u202eB", "U+202E")]
)
def test_a_control_character_in_an_imported_text_is_refused_with_its_line(
    catalog, title, code
):
    text = FORM.format(title=f'"{title}"', record_type="ZAEHLERSTAND")
    with pytest.raises(DefinitionError) as refused:
        parse_definition(text, catalog)
    assert str(refused.value) == f"line 3: title contains the control character {code}"


async def test_a_control_character_typed_in_the_editor_is_refused(client):
    token = await log_in_clerk(client)
    await post(client, "/admin/forms/new", token, NEW)
    page = await editor_page(client, title="Umzug\u202e melden")
    response = await post(client, EDIT, token, page)
    assert response.status == 422
    assert "Der Text enthält das Steuerzeichen U+202E; bitte entfernen." in (
        await response.text()
    )


@pytest.mark.parametrize(
    ("text", "until"),
    [("9999-12-31", True), ("2200-01-01T00:00", False), ("1999-12-31", False)],
)
def test_a_year_far_off_is_refused_with_the_reason(text, until):
    with pytest.raises(LocalTimeError) as refused:
        from_iso(text, until=until)
    assert str(refused.value).endswith(
        "liegt außerhalb des möglichen Bereichs (2000 bis 2199)."
    )


def test_the_last_day_of_the_last_year_may_still_end_a_schedule():
    assert german_end(from_iso("2199-12-31", until=True).utc) == (
        "31.12.2199, 24:00 Uhr"
    )


async def test_an_import_whose_end_has_passed_is_refused_in_german(client):
    app = client.app
    text = FORM.format(title="Umzug", record_type="ZAEHLERSTAND").replace(
        "sections:", 'publish_until: "2020-01-01"\nsections:'
    )
    with pytest.raises(ControlError) as refused:
        await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], text, "t")
    assert str(refused.value) == (
        "t: publish_until muss nach publish_from und in der Zukunft liegen."
    )
    assert (
        await app[BACKOFFICE].form_desk(app[PORTAL]).form("musterstadt", "umzug")
        is None
    )


async def test_a_far_end_typed_on_the_publish_page_is_refused_not_a_crash(client):
    token = await log_in_clerk(client)
    response = await post(
        client,
        f"{ADMIN}/sepa-mandat/publish",
        token,
        {"version": "1", "until_mode": "at", "until_date": "31.12.9999"},
    )
    assert response.status == 422
    assert "Das Jahr 9999 liegt außerhalb" in await response.text()


def test_an_end_at_midnight_is_shown_as_the_end_of_the_day_typed():
    assert german_end(from_iso("2026-12-31", until=True).utc) == (
        "31.12.2026, 24:00 Uhr"
    )


async def test_an_import_may_not_change_a_forms_record_type(client):
    app = client.app
    first = FORM.format(title="Umzug", record_type="ZAEHLERSTAND")
    await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], first, "t")
    other = FORM.format(title="Umzug", record_type="SEPA_MANDAT")
    with pytest.raises(ControlError) as refused:
        await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], other, "t")
    assert str(refused.value) == (
        "t: Das Formular musterstadt/umzug gehört zur Belegart ZAEHLERSTAND; eine "
        "andere Belegart braucht ein neues Formular."
    )


async def test_a_deleted_form_refuses_a_page_that_was_already_open(client):
    token = await log_in_clerk(client)
    page = await open_form(client, "/musterstadt/sepa-mandat")
    await post(client, f"{ADMIN}/sepa-mandat/delete", token)
    late = await client.post(
        "/musterstadt/sepa-mandat", data=form_data(page, GOOD_SEPA)
    )
    assert late.status == 410
    assert await client.app[PORTAL].store.submission_ids() == set()


async def test_a_scheduled_form_deleted_and_restored_does_not_claim_never_published(
    client,
):
    app = client.app
    later = FORM.format(title="Umzug", record_type="ZAEHLERSTAND").replace(
        "sections:", 'publish_from: "2030-01-01T08:00"\nsections:'
    )
    await publish_definition(app[PORTAL], app[BACKOFFICE], app[TENANTS], later, "t")
    token = await log_in_clerk(client)
    await post(client, f"{ADMIN}/umzug/delete", token)
    await post(client, f"{ADMIN}/umzug/undelete", token)
    page = await page_text(client, f"{ADMIN}/umzug")
    assert "noch nie veröffentlicht" not in page
    assert "Zurzeit ist keine Veröffentlichung geplant" in page


async def test_a_new_draft_says_it_was_never_published(client):
    token = await log_in_clerk(client)
    await post(client, "/admin/forms/new", token, NEW)
    page = await page_text(client, f"{ADMIN}/umzug")
    assert "Das Formular war noch nie veröffentlicht." in page
    assert "Zurzeit ist keine Veröffentlichung geplant" not in page


async def test_a_test_send_mails_no_confirmation(client):
    token = await log_in_clerk(client)
    fields = {**GOOD_METER, "KUNDE_EMAIL": "erika@beispiel.de"}
    photo = {"ZAEHLER_FOTO": ("zaehler.png", png_photo())}
    tried = await client.post(
        f"{ADMIN}/zaehlerstand/preview/1", data=form_data(token, fields, photo)
    )
    assert tried.status == 200
    await wait_until_taken(client.app)
    # A real send after it: its mail is the only one, though queued later.
    real = await send(client, METER, fields, photo)
    await wait_until_taken(client.app)
    [mail] = await wait_for_mails(client.app[CONFIG].outbox_dir, 1)
    assert mail["Subject"].split()[1].rstrip(":") in await real.text()
    assert len(outbox_files(client.app[CONFIG].outbox_dir)) == 1


@pytest.mark.parametrize(
    "command",
    [
        ("import-form",),
        ("send-link", "musterstadt", "zaehlerstand", "--to", "a@b.de", "--values"),
    ],
)
def test_a_file_that_is_not_utf8_is_refused_with_its_line(tmp_path, command):
    path = tmp_path / "datei.yaml"
    path.write_bytes("slug: umzug\ntitle: Umzug\nintro: Z\xe4hler\n".encode("latin-1"))
    result = run_py(*command, str(path), "--data", str(tmp_path / "data"))
    assert (result.returncode, result.stderr) == (
        1,
        f"{path}: line 3: the file is not UTF-8 text\n",
    )


@pytest.mark.parametrize("version", ["0", "-1", "zwei"])
def test_export_refuses_a_version_that_is_no_whole_number_from_one(tmp_path, version):
    result = run_py(
        "export-form",
        "musterstadt",
        "sepa-mandat",
        "--version",
        version,
        "--data",
        str(tmp_path / "data"),
    )
    assert result.returncode == 2
    assert f"expected a version from 1, not {version!r}" in result.stderr
