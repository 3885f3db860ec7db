"""A customer's send becomes a record; refused sends store nothing."""

from app.keys import BACKOFFICE
from tests.conftest import send, wait_until_taken

SEPA = "/musterstadt/sepa-mandat"
METER = "/musterstadt/zaehlerstand"
GOOD_SEPA = {
    "BANK_KONTOINHABER": "Erika Mustermann",
    "KUNDE_STRASSE": "Hauptstraße",
    "KUNDE_HAUSNR": "5a",
    "KUNDE_PLZ": "01067",
    "KUNDE_ORT": "Dresden",
    "BANK_IBAN": "DE02 1203 0000 0000 2020 51",
    "SEPA_ZUSTIMMUNG": "ja",
    "DATENSCHUTZ_KENNTNIS": "ja",
}
GOOD_METER = {
    "KUNDE_NR": "100234",
    "ZAEHLER_NR": "1ESY1160523456",
    "ZAEHLER_STAND": "012345,6",
    "ZAEHLER_ABLESEDATUM": "2026-12-01",
}


async def records(client):
    return await client.app[BACKOFFICE].store.records(None)


async def test_sepa_mandate_becomes_a_record_with_its_values(client):
    response = await send(client, SEPA, GOOD_SEPA)
    assert response.status == 200
    await wait_until_taken(client.app)
    [record] = await records(client)
    assert record["form_slug"] == "sepa-mandat"
    assert record["record_type"] == "SEPA_MANDAT"
    assert record["receipt"] in await response.text()
    values = __import__("json").loads(record["field_values"])
    assert values["KUNDE_PLZ"] == "01067"
    assert values["BANK_IBAN"] == "DE02120300000000202051"
    assert values["BANK_BIC"] == "BYLADEM1001"
