"""A customer's send becomes a record; a refused send stores nothing."""

import asyncio
import io
import json

import pytest
from PIL import Image

from app.keys import BACKOFFICE, PORTAL
from tests.conftest import form_data, open_form, send, wait_until_taken
from tests.images import jpeg_photo, png_photo
from tests.stepping import CONTRACT_PAGES, Walk

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


async def all_records(client):
    return await client.app[BACKOFFICE].store.records(None)


async def pending_ids(client):
    return await client.app[PORTAL].store.submission_ids()


def portal_files(client) -> list:
    return [p for p in client.app[PORTAL].queue.files_dir.rglob("*") if p.is_file()]


async def test_sepa_mandate_becomes_a_record_with_its_values(client):
    response = await send(client, SEPA, GOOD_SEPA)
    assert response.status == 200
    await wait_until_taken(client.app)
    [record] = await all_records(client)
    assert (record["form_slug"], record["record_type"]) == (
        "sepa-mandat",
        "SEPA_MANDAT",
    )
    assert record["receipt"] in await response.text()
    values = json.loads(record["field_values"])
    assert values["KUNDE_PLZ"] == "01067"
    assert values["BANK_IBAN"] == "DE02120300000000202051"
    assert values["BANK_BIC"] == "BYLADEM1001"


async def test_meter_reading_photo_arrives_without_gps(client):
    photo = jpeg_photo(orientation=6)
    response = await send(
        client, METER, GOOD_METER, {"ZAEHLER_FOTO": ("zaehler.jpg", photo)}
    )
    assert response.status == 200
    await wait_until_taken(client.app)
    [record] = await all_records(client)
    [attachment] = await client.app[BACKOFFICE].store.attachments(record["id"])
    stored = client.app[BACKOFFICE].attachment_path(attachment["id"]).read_bytes()
    exif = Image.open(io.BytesIO(stored)).getexif()
    assert dict(exif) == {0x0112: 6}
    assert exif.get_ifd(0x8825) == {}
    assert (attachment["filename"], attachment["content_type"]) == (
        "zaehler.jpg",
        "image/jpeg",
    )


async def test_portal_forgets_a_taken_submission(client):
    await send(client, METER, GOOD_METER, {"ZAEHLER_FOTO": ("z.png", png_photo())})
    await wait_until_taken(client.app)
    assert await pending_ids(client) == set()
    assert portal_files(client) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("BANK_IBAN", "DE02 1203 0000 0000 2020 52", "Prüfziffer"),
        ("KUNDE_PLZ", "1067", "5 Ziffern"),
        ("BANK_KONTOINHABER", "", "Kontoinhaber"),
    ],
)
async def test_wrong_value_reshows_the_form_with_what_was_typed(
    client, field, value, message
):
    response = await send(client, SEPA, {**GOOD_SEPA, field: value})
    html = await response.text()
    assert response.status == 422
    assert f'href="#f-{field}"' in html
    assert message in html
    assert 'value="Dresden"' in html
    assert await pending_ids(client) == set()


async def test_wrong_malo_id_is_refused_at_its_field(client):
    # The supply contract asks for the supply point on its third step.
    walk = await (await Walk(client).start()).through(CONTRACT_PAGES[:2])
    response = await walk.post({"ABNST_MALO_ID": "41373559242"})
    html = await response.text()
    assert response.status == 422
    assert 'id="f-ABNST_MALO_ID-error"' in html
    assert "Marktlokations" in html


async def test_png_named_pdf_is_judged_by_its_content(client):
    text = b"%PDF-1.7 not really\n" + b"x" * 100
    response = await send(
        client, METER, GOOD_METER, {"ZAEHLER_FOTO": ("zaehler.jpg", text)}
    )
    html = await response.text()
    assert response.status == 422
    assert 'id="f-ZAEHLER_FOTO-error"' in html
    assert "JPEG oder PNG" in html
    assert portal_files(client) == []


async def test_png_bytes_sent_as_pdf_name_are_taken_as_png(client):
    response = await send(
        client, METER, GOOD_METER, {"ZAEHLER_FOTO": ("scan.pdf", png_photo())}
    )
    assert response.status == 200
    await wait_until_taken(client.app)
    [record] = await all_records(client)
    [attachment] = await client.app[BACKOFFICE].store.attachments(record["id"])
    assert attachment["content_type"] == "image/png"


def padded_png(size: int) -> bytes:
    """Return a real PNG padded with an ancillary chunk to exactly `size` bytes."""
    import struct
    import zlib

    photo = png_photo()
    room = size - len(photo) - 12
    body = b"x" * room
    chunk = struct.pack(">I", room) + b"abCd" + body
    chunk += struct.pack(">I", zlib.crc32(b"abCd" + body))
    return photo[:-12] + chunk + photo[-12:]


async def test_photo_at_the_field_limit_is_taken(client):
    photo = padded_png(10_000_000)
    response = await send(client, METER, GOOD_METER, {"ZAEHLER_FOTO": ("z.png", photo)})
    assert response.status == 200


async def test_photo_one_byte_over_the_field_limit_is_413(client):
    photo = padded_png(10_000_001)
    response = await send(client, METER, GOOD_METER, {"ZAEHLER_FOTO": ("z.png", photo)})
    assert response.status == 413
    assert "zu groß" in await response.text()
    assert portal_files(client) == []
    assert await pending_ids(client) == set()


async def test_oversized_photo_sent_chunked_is_413(client):
    token = await open_form(client, METER)
    body = form_data(
        token, GOOD_METER, {"ZAEHLER_FOTO": ("z.png", padded_png(10_000_001))}
    )

    async def chunks():
        payload = body()
        buffer = io.BytesIO()

        class Sink:
            async def write(self, data):
                buffer.write(data)

        await payload.write(Sink())
        data = buffer.getvalue()
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    response = await client.post(
        METER, data=chunks(), headers={"Content-Type": body().content_type}
    )
    assert response.status == 413
    assert portal_files(client) == []


async def test_declared_oversize_is_refused_before_reading(client):
    token = await open_form(client, METER)
    too_big = client.app[PORTAL].config.uploads.max_submission_bytes + 1
    response = await client.post(
        METER,
        data=b"x",
        headers={
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(too_big),
        },
    )
    assert response.status == 413
    assert token


async def test_send_without_csrf_token_is_403(client):
    await open_form(client, SEPA)
    response = await client.post(SEPA, data=form_data(None, GOOD_SEPA))
    assert response.status == 403
    assert await pending_ids(client) == set()


async def test_forged_csrf_token_is_403(client):
    token = await open_form(client, SEPA)
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    response = await client.post(SEPA, data=form_data(forged, GOOD_SEPA))
    assert response.status == 403


async def test_token_of_another_form_is_403(client):
    token = await open_form(client, METER)
    response = await client.post(SEPA, data=form_data(token, GOOD_SEPA))
    assert response.status == 403


async def test_double_submit_stores_one_and_shows_the_same_receipt(client):
    token = await open_form(client, SEPA)
    first, second = await asyncio.gather(
        client.post(SEPA, data=form_data(token, GOOD_SEPA)),
        client.post(SEPA, data=form_data(token, GOOD_SEPA)),
    )
    assert (first.status, second.status) == (200, 200)
    await wait_until_taken(client.app)
    [record] = await all_records(client)
    assert record["receipt"] in await first.text()
    assert record["receipt"] in await second.text()


async def test_resend_after_taking_shows_the_first_receipt(client):
    token = await open_form(client, SEPA)
    first = await client.post(SEPA, data=form_data(token, GOOD_SEPA))
    await wait_until_taken(client.app)
    again = await client.post(SEPA, data=form_data(token, GOOD_SEPA))
    [record] = await all_records(client)
    assert record["receipt"] in await first.text()
    assert record["receipt"] in await again.text()


async def test_sends_are_throttled_per_client(aiohttp_client, data_dir):
    from app.application import create_app
    from app.config import load_config

    config = load_config(
        None,
        data=str(data_dir),
        throttle={"submissions_per_minute": 2, "logins_per_minute": 5},
    )
    client = await aiohttp_client(create_app(config))
    statuses = [(await send(client, SEPA, GOOD_SEPA)).status for _ in range(3)]
    assert statuses == [200, 200, 429]


async def test_non_multipart_send_is_400(client):
    response = await client.post(SEPA, data={"csrf_token": "x"})
    assert response.status == 400


async def test_unknown_form_is_404_in_the_tenant_frame(client):
    response = await client.get("/musterstadt/gibt-es-nicht")
    assert response.status == 404
    assert "/static/tenant/musterstadt/theme.css" in await response.text()


async def test_form_page_is_not_cached_and_sets_a_strict_cookie(client):
    response = await client.get(SEPA)
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.cookies["mp_csrf"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
