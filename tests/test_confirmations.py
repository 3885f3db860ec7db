"""The receiver mails a confirmation after taking a send, if the form asks."""

import pytest

from app.backoffice.confirmations import summary
from app.forms.catalog import CATALOG_PATH, load_catalog
from app.forms.definition import load_definition_file
from app.keys import CONFIG, OUTBOX
from tests.conftest import send, wait_until_taken
from tests.images import png_photo
from tests.linkhelp import outbox_files, wait_for_mails
from tests.test_submission import GOOD_METER, GOOD_SEPA, METER, SEPA

DEMO = CATALOG_PATH.parent.parent / "demo" / "forms"


async def send_meter(client, email: str):
    fields = {**GOOD_METER, "KUNDE_EMAIL": email} if email else GOOD_METER
    photo = {"ZAEHLER_FOTO": ("zaehler.png", png_photo())}
    response = await send(client, METER, fields, photo)
    await wait_until_taken(client.app)
    return response


async def test_a_meter_reading_is_confirmed_with_its_receipt_and_no_photo(client):
    response = await send_meter(client, "erika@beispiel.de")
    [mail] = await wait_for_mails(client.app[CONFIG].outbox_dir, 1)
    text = mail.get_body(("plain",)).get_content()
    html = await response.text()
    receipt = mail["Subject"].split()[1].rstrip(":")
    assert mail["Subject"] == f"Eingangsbestätigung {receipt}: Zählerstand melden"
    assert receipt in html
    assert "Zählernummer: 1ESY1160523456" in text
    assert list(mail.iter_attachments()) == []


@pytest.mark.parametrize(
    ("path", "fields"), [(METER, {}), (SEPA, GOOD_SEPA)], ids=["no-address", "sepa"]
)
async def test_no_confirmation_without_an_address_or_a_form_that_asks(
    client, path, fields
):
    if path == METER:
        await send_meter(client, "")
    else:
        await send(client, path, fields)
        await wait_until_taken(client.app)
    # A confirmation is queued with its record: none queued now, none later.
    assert await client.app[OUTBOX].store.waiting() == []
    assert outbox_files(client.app[CONFIG].outbox_dir) == []


@pytest.mark.parametrize(
    ("iban", "shown"),
    [
        ("DE02120300000000202051", "••••••••••••••••••2051"),
        ("DE89370400440532013000", "••••••••••••••••••3000"),
    ],
)
def test_the_summary_shows_only_the_end_of_an_iban(iban, shown):
    form = load_definition_file(DEMO / "sepa-mandat.yaml", load_catalog(CATALOG_PATH))
    lines = summary(form, {"BANK_IBAN": iban, "SEPA_ZUSTIMMUNG": "ja"})
    assert lines == [
        {"label": "IBAN", "value": shown},
        {"label": "Ich erteile das SEPA-Lastschriftmandat", "value": "Ja"},
    ]
