import io
import struct

import images
import pytest
from PIL import Image
from PIL.ExifTags import Base

from app.uploads import SNIFF_BYTES, UploadRefused, sanitizer_for, sniff

MAX_PIXELS = 40_000_000
TRUNCATED = "Die Datei ist unvollständig. Bitte laden Sie sie noch einmal hoch."
BROKEN_IMAGE = "Das Bild ist beschädigt. Bitte laden Sie eine andere Aufnahme hoch."
BROKEN_PDF = (
    "Das PDF-Dokument ist unvollständig oder beschädigt. "
    "Bitte laden Sie es noch einmal hoch."
)
NO_SIZE = "Das Bild hat keine gültige Größe. Bitte laden Sie eine andere Aufnahme hoch."
NOT_ALLOWED = "Bitte laden Sie ein Foto (JPEG oder PNG) oder ein PDF-Dokument hoch."
JPEG_PHOTO = images.jpeg_photo()
PNG_PHOTO = images.png_photo()
PDF = images.pdf_document()
PHOTOS = [("image/jpeg", JPEG_PHOTO), ("image/png", PNG_PHOTO)]


def sanitize(data, content_type, chunk_size=None, max_pixels=MAX_PIXELS):
    sanitizer = sanitizer_for(content_type, max_pixels)
    step = chunk_size or len(data)
    pieces = [sanitizer.feed(data[i : i + step]) for i in range(0, len(data), step)]
    return b"".join(pieces) + sanitizer.finish()


def opened(data):
    return Image.open(io.BytesIO(data))


def markers(jpeg):
    return [segment[1] for segment in images.jpeg_segments(jpeg)]


def too_large(max_pixels):
    allowed = f"{max_pixels:,}".replace(",", ".")
    return (
        f"Das Bild ist zu groß: Erlaubt sind höchstens {allowed} Bildpunkte. "
        "Bitte laden Sie eine kleinere Aufnahme hoch."
    )


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (JPEG_PHOTO, "image/jpeg"),
        (PNG_PHOTO, "image/png"),
        (PDF, "application/pdf"),
        (b"Sehr geehrte Damen und Herren,", None),
        (images.PNG_SIGNATURE + images.png_chunk(b"tEXt", b"a\x00b"), None),
        (b"%PDF-x.y\n", None),
        (b"GIF89a\x01\x00\x01\x00", None),
        (b"\xff\xd8", None),
        (b"", None),
    ],
)
def test_sniff_judges_the_type_by_content_alone(data, expected):
    assert sniff(data[:SNIFF_BYTES]) == expected


@pytest.mark.parametrize(
    ("declared", "message"),
    [("image/jpeg", BROKEN_IMAGE), ("application/pdf", BROKEN_PDF)],
)
def test_png_bytes_are_png_whatever_type_is_declared(declared, message):
    assert sniff(PNG_PHOTO[:SNIFF_BYTES]) == "image/png"
    with pytest.raises(UploadRefused) as refused:
        sanitize(PNG_PHOTO, declared)
    assert refused.value.message == message


@pytest.mark.parametrize("content_type", ["image/gif", "text/html", ""])
def test_sanitizer_for_refuses_a_type_that_is_not_allowed(content_type):
    with pytest.raises(UploadRefused) as refused:
        sanitizer_for(content_type, MAX_PIXELS)
    assert refused.value.message == NOT_ALLOWED


def test_jpeg_keeps_its_pixels_and_loses_camera_gps_and_times():
    cleaned = opened(sanitize(JPEG_PHOTO, "image/jpeg"))
    assert cleaned.size == images.SIZE
    assert cleaned.tobytes() == opened(JPEG_PHOTO).tobytes()
    assert dict(cleaned.getexif()) == {Base.Orientation: 6}


def test_jpeg_loses_xmp_and_comment_but_keeps_its_icc_profile():
    cleaned = sanitize(JPEG_PHOTO, "image/jpeg")
    assert images.XMP not in cleaned
    assert images.COMMENT not in cleaned
    assert "xmp" not in opened(cleaned).info
    assert "comment" not in opened(cleaned).info
    assert opened(cleaned).info["icc_profile"] == opened(JPEG_PHOTO).info["icc_profile"]


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        (6, [0xE0, 0xE1, 0xE2, 0xDB, 0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDA]),
        (1, [0xE0, 0xE2, 0xDB, 0xDB, 0xC0, 0xC4, 0xC4, 0xC4, 0xC4, 0xDA]),
    ],
)
def test_jpeg_keeps_only_jfif_icc_tables_and_an_exif_that_rotates(
    orientation, expected
):
    cleaned = sanitize(images.jpeg_photo(orientation), "image/jpeg")
    assert markers(cleaned) == expected


@pytest.mark.parametrize("byte_order", ["<", ">"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_jpeg_orientation_survives_in_either_byte_order(orientation, byte_order):
    photo = images.jpeg_photo(orientation, byte_order)
    cleaned = opened(sanitize(photo, "image/jpeg"))
    assert dict(cleaned.getexif()) == {Base.Orientation: orientation}


def test_jpeg_keeps_the_adobe_segment_of_a_cmyk_image():
    cmyk = images.save(images.pattern(mode="CMYK"), "JPEG")
    cleaned = sanitize(cmyk, "image/jpeg", chunk_size=7)
    assert cleaned == cmyk
    assert markers(cleaned)[0] == 0xEE


@pytest.mark.parametrize(
    "options", [{}, {"progressive": True}, {"restart_marker_blocks": 1}]
)
def test_jpeg_without_metadata_passes_unchanged_with_all_its_scans(options):
    plain = images.save(images.noise((40, 30)), "JPEG", **options)
    assert sanitize(plain, "image/jpeg", chunk_size=1) == plain


@pytest.mark.parametrize(
    "segment",
    [
        b"\xff\xfe" + struct.pack(">H", 2 + len(images.COMMENT)) + images.COMMENT,
        b"\xff\xe1\x00\x0aExif\x00\x00II",
        b"\xff\xed\x00\x10Photoshop 3.0\x00",
    ],
)
def test_jpeg_drops_metadata_segments_after_the_scan(segment):
    cleaned = sanitize(images.before_end(JPEG_PHOTO, segment), "image/jpeg", 1)
    assert cleaned == sanitize(JPEG_PHOTO, "image/jpeg")


def test_jpeg_loses_the_thumbnail_inside_its_jfif_segment():
    with_thumbnail = images.with_jfif_thumbnail(JPEG_PHOTO)
    assert sanitize(with_thumbnail, "image/jpeg") == sanitize(JPEG_PHOTO, "image/jpeg")


def test_png_keeps_its_pixels_and_loses_text_time_camera_and_gps():
    cleaned = sanitize(PNG_PHOTO, "image/png")
    assert opened(cleaned).tobytes() == images.pattern().tobytes()
    assert opened(cleaned).text == {}
    assert dict(opened(cleaned).getexif()) == {Base.Orientation: 6}
    assert images.png_chunk_types(cleaned) == [b"IHDR", b"eXIf", b"IDAT", b"IEND"]


@pytest.mark.parametrize("byte_order", ["<", ">"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_png_orientation_survives_in_either_byte_order(orientation, byte_order):
    photo = images.png_photo(orientation, byte_order)
    cleaned = opened(sanitize(photo, "image/png"))
    assert dict(cleaned.getexif()) == {Base.Orientation: orientation}


def test_png_that_stands_upright_gets_no_exif_at_all():
    cleaned = sanitize(images.png_photo(orientation=1), "image/png")
    assert images.png_chunk_types(cleaned) == [b"IHDR", b"IDAT", b"IEND"]


def test_png_exif_with_the_jpeg_prefix_still_gives_its_orientation():
    exif = images.png_chunk(b"eXIf", images.camera_exif(8).tobytes())
    plain = images.save(images.pattern(), "PNG")
    cleaned = opened(sanitize(images.with_png_chunk(plain, exif), "image/png"))
    assert dict(cleaned.getexif()) == {Base.Orientation: 8}


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
@pytest.mark.parametrize(("content_type", "photo"), PHOTOS)
def test_output_is_the_same_whatever_the_chunk_size(content_type, photo, chunk_size):
    whole = sanitize(photo, content_type)
    assert sanitize(photo, content_type, chunk_size) == whole


@pytest.mark.parametrize(("content_type", "photo"), PHOTOS)
def test_bytes_after_the_end_of_an_image_are_dropped(content_type, photo):
    appended = photo + b"PK\x03\x04" + bytes(64)
    assert sanitize(appended, content_type) == sanitize(photo, content_type)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_png_image_data_streams_through_without_being_held(fraction):
    png = images.png_by_hand(images.noise((256, 256)))
    cut = 41 + int((len(png) - 41 - 12 - 4) * fraction)
    assert sanitizer_for("image/png", MAX_PIXELS).feed(png[:cut]) == png[:cut]
    assert opened(sanitize(png, "image/png", 1000)).tobytes() == opened(png).tobytes()


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_jpeg_scan_data_streams_through_without_being_held(fraction):
    jpeg = images.save(images.noise((256, 256)), "JPEG")
    start = 2 + sum(len(segment) for segment in images.jpeg_segments(jpeg))
    cut = start + int((len(jpeg) - start) * fraction)
    cut = next(i for i in range(cut, len(jpeg)) if jpeg[i - 1] != 0xFF)
    assert sanitizer_for("image/jpeg", MAX_PIXELS).feed(jpeg[:cut]) == jpeg[:cut]


@pytest.mark.parametrize(
    ("content_type", "header"),
    [("image/jpeg", images.jpeg_header), ("image/png", images.png_header)],
)
def test_header_claiming_60000_by_60000_pixels_is_refused_at_once(content_type, header):
    sanitizer = sanitizer_for(content_type, MAX_PIXELS)
    with pytest.raises(UploadRefused) as refused:
        sanitizer.feed(header(60000, 60000))
    assert refused.value.message == too_large(MAX_PIXELS)


@pytest.mark.parametrize(("content_type", "photo"), PHOTOS)
def test_real_image_over_max_pixels_is_refused(content_type, photo):
    with pytest.raises(UploadRefused) as refused:
        sanitize(photo, content_type, chunk_size=1, max_pixels=64 * 48 - 1)
    assert refused.value.message == too_large(64 * 48 - 1)


@pytest.mark.parametrize(("content_type", "photo"), PHOTOS)
def test_real_image_of_exactly_max_pixels_passes(content_type, photo):
    cleaned = sanitize(photo, content_type, max_pixels=64 * 48)
    assert opened(cleaned).size == (64, 48)


@pytest.mark.parametrize(("width", "height"), [(0, 48), (64, 0)])
@pytest.mark.parametrize(
    ("content_type", "header"),
    [("image/jpeg", images.jpeg_header), ("image/png", images.png_header)],
)
def test_image_without_width_or_height_is_refused(content_type, header, width, height):
    with pytest.raises(UploadRefused) as refused:
        sanitizer_for(content_type, MAX_PIXELS).feed(header(width, height))
    assert refused.value.message == NO_SIZE


@pytest.mark.parametrize(
    ("content_type", "truncated"),
    [
        ("image/jpeg", JPEG_PHOTO[:3]),
        ("image/jpeg", JPEG_PHOTO[: len(JPEG_PHOTO) // 2]),
        ("image/jpeg", JPEG_PHOTO[:-2]),
        ("image/jpeg", JPEG_PHOTO[:-1]),
        ("image/png", PNG_PHOTO[:20]),
        ("image/png", PNG_PHOTO[: len(PNG_PHOTO) // 2]),
        ("image/png", PNG_PHOTO[:-12]),
        ("image/png", PNG_PHOTO[:-3]),
        ("application/pdf", PDF[:4]),
    ],
)
def test_truncated_file_is_refused_at_the_end(content_type, truncated):
    sanitizer = sanitizer_for(content_type, MAX_PIXELS)
    sanitizer.feed(truncated)
    with pytest.raises(UploadRefused) as refused:
        sanitizer.finish()
    assert refused.value.message == TRUNCATED


@pytest.mark.parametrize(
    ("content_type", "damaged"),
    [
        ("image/jpeg", JPEG_PHOTO[:2] + b"\x00" + JPEG_PHOTO[2:]),
        ("image/jpeg", b"\xff\xd8\xff\xd9"),
        ("image/jpeg", b"\xff\xd8\xff\xda\x00\x02" + JPEG_PHOTO[2:]),
        ("image/jpeg", JPEG_PHOTO[:2] + b"\xff\xd8" + JPEG_PHOTO[2:]),
        ("image/png", images.png_header(64, 48) + images.png_chunk(b"IEND", b"")),
        ("image/png", images.PNG_SIGNATURE + images.png_chunk(b"tEXt", bytes(40))),
        ("image/png", PNG_PHOTO[:33] + b"\x00\x00\x00\x01I?AT" + PNG_PHOTO[41:]),
    ],
)
def test_damaged_image_is_refused(content_type, damaged):
    with pytest.raises(UploadRefused) as refused:
        sanitize(damaged, content_type, chunk_size=1)
    assert refused.value.message == BROKEN_IMAGE


def test_refusal_holds_for_every_later_call():
    sanitizer = sanitizer_for("image/jpeg", 100)
    with pytest.raises(UploadRefused):
        sanitizer.feed(JPEG_PHOTO)
    for later in (lambda: sanitizer.feed(b"\xff\xd9"), sanitizer.finish):
        with pytest.raises(UploadRefused) as refused:
            later()
        assert refused.value.message == too_large(100)


@pytest.mark.parametrize("padding", [0, 1019])
def test_pdf_with_eof_mark_in_its_last_1024_bytes_passes_unchanged(padding):
    padded = PDF + b" " * padding
    assert sanitize(padded, "application/pdf", chunk_size=7) == padded


@pytest.mark.parametrize(
    "damaged",
    [PDF[: -len(b"%%EOF")], PDF + b" " * 1020, b"%PDF-x" + PDF[6:]],
)
def test_pdf_without_header_or_eof_mark_at_its_end_is_refused(damaged):
    with pytest.raises(UploadRefused) as refused:
        sanitize(damaged, "application/pdf", chunk_size=100)
    assert refused.value.message == BROKEN_PDF


@pytest.mark.parametrize(
    "kind", [b"prVt", b"acTL", b"fcTL", b"fdAT", b"sPLT", b"hIST", b"eXIf"]
)
def test_png_keeps_only_chunks_that_show_its_pixels(kind):
    photo = images.with_png_chunk(
        images.png_photo(orientation=1), images.png_chunk(kind, b"Erika")
    )
    cleaned = sanitize(photo, "image/png")
    assert kind not in images.png_chunk_types(cleaned)
    assert b"Erika" not in cleaned


def test_png_with_an_unknown_critical_chunk_is_refused():
    photo = images.with_png_chunk(
        images.png_photo(), images.png_chunk(b"XYZW", b"data")
    )
    with pytest.raises(UploadRefused):
        sanitize(photo, "image/png")
