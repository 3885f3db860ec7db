"""Make real test images with Pillow, carrying what a phone camera writes."""

import io
import random
import struct
import zlib

from PIL import Image, ImageCms
from PIL.ExifTags import GPS, IFD, Base
from PIL.PngImagePlugin import PngInfo

SIZE = (64, 48)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
    b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.2N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
COMMENT = b"Aufgenommen im Keller, Musterstrasse 5"
AUTHOR = "Erika Mustermann"


def pattern(size: tuple[int, int] = SIZE, mode: str = "RGB") -> Image.Image:
    """Draw a picture whose pixels all differ a little, in the given mode."""
    width, height = size
    image = Image.new("RGB", size)
    image.putdata(
        [
            ((x * 7) % 256, (y * 11) % 256, (x * y) % 256)
            for y in range(height)
            for x in range(width)
        ]
    )
    return image.convert(mode)


def camera_exif(orientation: int = 6, byte_order: str = "<") -> Image.Exif:
    """Build Exif as a phone writes it: camera, times, orientation and GPS."""
    exif = Image.Exif()
    exif.endian = byte_order
    exif[Base.Make] = "Beispielkamera"
    exif[Base.Model] = "Modell 7"
    exif[Base.DateTime] = "2024:05:17 09:41:00"
    exif[Base.Orientation] = orientation
    exif.get_ifd(IFD.Exif)[Base.DateTimeOriginal] = "2024:05:17 09:41:00"
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = "N"
    gps[GPS.GPSLatitude] = (52.0, 31.0, 12.5)
    gps[GPS.GPSLongitudeRef] = "E"
    gps[GPS.GPSLongitude] = (13.0, 24.0, 3.0)
    return exif


def save(image: Image.Image, kind: str, **options) -> bytes:
    """Encode an image with Pillow and return the file's bytes."""
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def jpeg_photo(
    orientation: int = 6, byte_order: str = "<", size: tuple[int, int] = SIZE
) -> bytes:
    """Make a JPEG with camera Exif and GPS, XMP, a comment and an ICC profile."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return save(
        pattern(size),
        "JPEG",
        exif=camera_exif(orientation, byte_order),
        xmp=XMP,
        comment=COMMENT,
        icc_profile=icc,
    )


def png_photo(
    orientation: int = 6, byte_order: str = "<", size: tuple[int, int] = SIZE
) -> bytes:
    """Make a PNG with camera Exif and GPS, tEXt, zTXt, iTXt (XMP) and tIME."""
    info = PngInfo()
    info.add_text("Author", AUTHOR)
    info.add_text("Comment", COMMENT.decode(), zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add(b"tIME", struct.pack(">HBBBBB", 2024, 5, 17, 9, 41, 0))
    exif = camera_exif(orientation, byte_order)
    return save(pattern(size), "PNG", exif=exif, pnginfo=info)


def noise(size: tuple[int, int], seed: int = 7) -> Image.Image:
    """Make an RGB picture of reproducible noise, which compresses badly."""
    width, height = size
    data = random.Random(seed).randbytes(width * height * 3)
    return Image.frombytes("RGB", size, data)


def png_by_hand(image: Image.Image) -> bytes:
    """Encode an RGB image as a PNG with one IDAT chunk and nothing else."""
    width, height = image.size
    rows = image.tobytes()
    stride = width * 3
    filtered = b"".join(
        b"\x00" + rows[y * stride : (y + 1) * stride] for y in range(height)
    )
    idat = png_chunk(b"IDAT", zlib.compress(filtered))
    return png_header(width, height) + idat + png_chunk(b"IEND", b"")


def with_png_chunk(png: bytes, chunk: bytes) -> bytes:
    """Insert a chunk right after a PNG's IHDR."""
    return png[:33] + chunk + png[33:]


def pdf_document() -> bytes:
    """Make a one-page PDF with Pillow."""
    return save(pattern(), "PDF")


def jpeg_header(width: int, height: int) -> bytes:
    """Write by hand the start of a JPEG whose frame header claims a size."""
    frame = struct.pack(">BHHB", 8, height, width, 1) + bytes((1, 0x11, 0))
    return b"\xff\xd8\xff\xc0" + struct.pack(">H", 2 + len(frame)) + frame


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """Frame data as a PNG chunk with its length and CRC."""
    crc = struct.pack(">I", zlib.crc32(kind + data))
    return struct.pack(">I", len(data)) + kind + data + crc


def png_header(width: int, height: int) -> bytes:
    """Write by hand the start of a PNG whose IHDR claims a size."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr)


def png_chunk_types(data: bytes) -> list[bytes]:
    """List the chunk types of a PNG in file order."""
    types, pos = [], len(PNG_SIGNATURE)
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        types.append(kind)
        pos += 12 + length
    return types


def jpeg_segments(data: bytes) -> list[bytes]:
    """List the marker segments of a JPEG up to and including its first scan header."""
    segments, pos = [], 2
    while not segments or segments[-1][1] != 0xDA:
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append(data[pos : pos + 2 + length])
        pos += 2 + length
    return segments


def with_jfif_thumbnail(jpeg: bytes) -> bytes:
    """Replace the JFIF segment Pillow writes by one with a 1x1 thumbnail."""
    assert jpeg[2:6] == b"\xff\xe0\x00\x10"
    jfif = jpeg[6:18] + b"\x01\x01" + b"\x12\x34\x56"
    return jpeg[:2] + b"\xff\xe0" + struct.pack(">H", 2 + len(jfif)) + jfif + jpeg[20:]


def before_end(jpeg: bytes, segment: bytes) -> bytes:
    """Insert a segment between a JPEG's last scan and its end marker."""
    assert jpeg.endswith(b"\xff\xd9")
    return jpeg[:-2] + segment + b"\xff\xd9"
