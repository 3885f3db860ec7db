"""Judge uploads by their content and strip photos of metadata as they stream.

The web layer pushes each chunk of a file part through a Sanitizer before it
seals it. A sanitizer parses the file incrementally and holds back only the
few header bytes it still needs to inspect, never the image data, so an upload
is never whole in memory. Images are not decoded here.
"""

import logging
import struct
import zlib
from collections.abc import Generator

log = logging.getLogger(__name__)

ALLOWED_TYPES = ("image/jpeg", "image/png", "application/pdf")
SNIFF_BYTES = 16

_TRUNCATED = "Die Datei ist unvollständig. Bitte laden Sie sie noch einmal hoch."
_BROKEN_IMAGE = "Das Bild ist beschädigt. Bitte laden Sie eine andere Aufnahme hoch."
_BROKEN_PDF = (
    "Das PDF-Dokument ist unvollständig oder beschädigt. "
    "Bitte laden Sie es noch einmal hoch."
)
_NO_SIZE = (
    "Das Bild hat keine gültige Größe. Bitte laden Sie eine andere Aufnahme hoch."
)
_NOT_ALLOWED = "Bitte laden Sie ein Foto (JPEG oder PNG) oder ein PDF-Dokument hoch."

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IHDR_HEAD = b"\x00\x00\x00\x0dIHDR"
# Chunks a PNG keeps: the critical ones and ancillary ones that only say how
# to show the pixels. Everything else (text, time, Exif, private chunks, the
# frames of an animation) is dropped: a keep-list, since a drop-list lets any
# new or private chunk carry metadata through.
_PNG_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_PNG_KEPT = _PNG_CRITICAL | frozenset(
    {
        b"tRNS",
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"iCCP",
        b"sBIT",
        b"bKGD",
        b"pHYs",
        b"cICP",
        b"mDCv",
        b"cLLi",
    }
)
_PNG_MAX_LENGTH = 0x7FFFFFFF
_PDF_TAIL = 1024
_EXIF_IDENT = b"Exif\x00\x00"
_ICC_IDENT = b"ICC_PROFILE\x00"
_JFIF_IDENT = b"JFIF\x00"
_TIFF_BYTE_ORDERS = {b"II*\x00": "<", b"MM\x00*": ">"}
_TIFF_ORIENTATION = 0x0112
_TIFF_SHORT = 3

# JPEG markers, named by the byte that follows 0xFF.
_EOI, _SOS = 0xD9, 0xDA
_APP0, _APP1, _APP2, _APP14 = 0xE0, 0xE1, 0xE2, 0xEE
_RST = range(0xD0, 0xD8)
# C4 (DHT), C8 (JPG) and CC (DAC) sit among the frame markers but carry no size.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# DHP describes a hierarchical image with the same layout as a frame header.
_SIZED = _SOF | {0xDE}
# Tables and parameters a decoder needs (DHT, DAC, DQT, DNL, DRI, EXP) and the
# Adobe segment that tells how the colour channels are encoded.
_KEPT = frozenset({0xC4, 0xCC, 0xDB, 0xDC, 0xDD, 0xDF, _APP14})
# Reserved JPG extensions, every APPn not kept above and COM.
_DROPPED = frozenset({0xC8, *range(0xE0, 0xFF)})

_Step = Generator[None, bool, None]


class UploadRefused(Exception):
    """message: German text for the customer, shown at the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def sniff(head: bytes) -> str | None:
    """Name the allowed type that the leading bytes show, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(_PNG_SIGNATURE + _PNG_IHDR_HEAD):
        return "image/png"
    if head.startswith(b"%PDF-") and head[5:6].isdigit():
        return "application/pdf"
    return None


def _refused(reason: str, message: str) -> UploadRefused:
    """Log why an upload is refused and make the refusal for the customer."""
    log.warning("Upload refused: %s", reason)
    return UploadRefused(message)


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    """Refuse an image without area or with more pixels than allowed."""
    if width == 0 or height == 0:
        raise _refused("image without width or height", _NO_SIZE)
    if width * height > max_pixels:
        allowed = f"{max_pixels:,}".replace(",", ".")
        raise _refused(
            f"image of {width}x{height} pixels",
            f"Das Bild ist zu groß: Erlaubt sind höchstens {allowed} Bildpunkte. "
            "Bitte laden Sie eine kleinere Aufnahme hoch.",
        )


def _orientation_tiff(orientation: int) -> bytes:
    """Build a big-endian TIFF block whose only entry is the orientation."""
    header = struct.pack(">2sHI", b"MM", 42, 8)
    ifd0 = struct.pack(
        ">HHHIHHI", 1, _TIFF_ORIENTATION, _TIFF_SHORT, 1, orientation, 0, 0
    )
    return header + ifd0


class Sanitizer:
    """Clean one upload chunk by chunk, holding back only unread header bytes.

    Subclasses write `_parse` as one generator that reads the file front to
    back; it pauses (yields) only when the current chunk is used up, and the
    value sent back says whether another chunk came or the upload ended.
    """

    def __init__(self, max_pixels: int) -> None:
        self._max_pixels = max_pixels
        self._chunk = b""
        self._pos = 0
        self._out = bytearray()
        self._done = False
        self._refusal: UploadRefused | None = None
        self._parser = self._parse()
        next(self._parser)

    def feed(self, chunk: bytes) -> bytes:
        """Take the next chunk of the upload and return the cleaned bytes so far."""
        self._raise_refusal()
        if chunk and not self._done:
            self._chunk, self._pos = bytes(chunk), 0
            self._resume(more=True)
        return self._drain()

    def finish(self) -> bytes:
        """Return the rest; refuse the upload if the file is truncated or broken."""
        self._raise_refusal()
        if not self._done:
            self._resume(more=False)
        return self._drain()

    def _parse(self) -> _Step:
        raise NotImplementedError

    def _raise_refusal(self) -> None:
        # A caller that ignored a refusal must not get the rest of the file.
        if self._refusal is not None:
            raise self._refusal

    def _resume(self, more: bool) -> None:
        try:
            self._parser.send(more)
        except StopIteration:
            # Whatever follows the end of the file is dropped, never passed on.
            self._done = True
        except UploadRefused as refusal:
            self._refusal = refusal
            raise
        finally:
            self._chunk = b""

    def _drain(self) -> bytes:
        ready = bytes(self._out)
        self._out.clear()
        return ready

    def _emit(self, data: bytes) -> None:
        self._out += data

    def _wait(self) -> _Step:
        if not (yield):
            raise _refused("upload ended early", _TRUNCATED)

    def _take(self, size: int) -> Generator[None, bool, bytes]:
        """Read the next size bytes to inspect them; size is always small."""
        taken = b""
        while len(taken) < size:
            if self._pos == len(self._chunk):
                yield from self._wait()
            end = self._pos + size - len(taken)
            taken += self._chunk[self._pos : end]
            self._pos = min(end, len(self._chunk))
        return taken

    def _stream(self, size: int, keep: bool) -> _Step:
        """Pass the next size bytes on (or drop them) chunk by chunk as they come."""
        while size > 0:
            if self._pos == len(self._chunk):
                yield from self._wait()
            end = min(self._pos + size, len(self._chunk))
            if keep:
                self._out += memoryview(self._chunk)[self._pos : end]
            size -= end - self._pos
            self._pos = end

    def _pass_on(self, size: int) -> _Step:
        return self._stream(size, keep=True)

    def _skip(self, size: int) -> _Step:
        return self._stream(size, keep=False)

    def _read_orientation(
        self, size: int, head: bytes = b""
    ) -> Generator[None, bool, int | None]:
        """Consume a TIFF block (head, then size more bytes); return its rotation.

        IFD0 lies after the header and holds the Orientation entry, so reading
        forward twelve bytes at a time finds it without holding the block.
        """
        total = len(head) + size
        if total < 8:
            yield from self._skip(size)
            return None
        header = head + (yield from self._take(8 - len(head)))
        used = 8
        byte_order = _TIFF_BYTE_ORDERS.get(header[:4])
        if byte_order is None:
            yield from self._skip(total - used)
            return None
        (ifd0,) = struct.unpack(byte_order + "I", header[4:])
        orientation = None
        if 8 <= ifd0 <= total - 2:
            yield from self._skip(ifd0 - used)
            (count,) = struct.unpack(byte_order + "H", (yield from self._take(2)))
            used = ifd0 + 2
            for _ in range(min(count, (total - used) // 12)):
                entry = yield from self._take(12)
                used += 12
                tag, kind, number, value = struct.unpack(
                    byte_order + "HHIH", entry[:10]
                )
                if tag == _TIFF_ORIENTATION:
                    if (kind, number) == (_TIFF_SHORT, 1):
                        orientation = value
                    break
        yield from self._skip(total - used)
        return orientation if orientation in range(2, 9) else None


class _JpegSanitizer(Sanitizer):
    """Drop JPEG metadata segments, keep what decoding and colour need."""

    # Limitation: an orientation given only in XMP (tiff:Orientation) is lost
    # with the XMP segment; only the Exif orientation is carried over.
    # Limitation: stray bytes between segments, which libjpeg tolerates with a
    # warning, make the image count as damaged and be refused.

    def __init__(self, max_pixels: int) -> None:
        self._frame_seen = False
        self._scan_seen = False
        self._exif_seen = False
        super().__init__(max_pixels)

    def _parse(self) -> _Step:
        if (yield from self._take(2)) != b"\xff\xd8":
            raise _refused("JPEG without start of image", _BROKEN_IMAGE)
        self._emit(b"\xff\xd8")
        marker = yield from self._next_marker()
        while marker != _EOI:
            yield from self._segment(marker)
            if marker == _SOS:
                marker = yield from self._scan()
            else:
                marker = yield from self._next_marker()
        if not self._scan_seen:
            raise _refused("JPEG without a scan", _BROKEN_IMAGE)
        self._emit(b"\xff\xd9")

    def _next_marker(self) -> Generator[None, bool, int]:
        if (yield from self._take(1)) != b"\xff":
            raise _refused("JPEG data outside a segment", _BROKEN_IMAGE)
        return (yield from self._marker_after_ff())

    def _marker_after_ff(self) -> Generator[None, bool, int]:
        marker = 0xFF
        # Any number of 0xFF fill bytes may pad the space before a marker.
        while marker == 0xFF:
            (marker,) = yield from self._take(1)
        return marker

    def _scan(self) -> Generator[None, bool, int]:
        """Pass entropy-coded data on; return the marker that ends the scan."""
        while True:
            if self._pos == len(self._chunk):
                yield from self._wait()
            end = self._plain_data_end()
            self._out += memoryview(self._chunk)[self._pos : end]
            self._pos = end
            if end == len(self._chunk):
                continue
            self._pos += 1
            marker = yield from self._marker_after_ff()
            if marker != 0x00 and marker not in _RST:
                return marker
            self._emit(bytes((0xFF, marker)))

    def _plain_data_end(self) -> int:
        """Find where the current chunk's run of scan data meets a marker or ends."""
        chunk = self._chunk
        ff = chunk.find(b"\xff", self._pos)
        # Stuffed 0xFF00 and restart markers are data; skipping them here saves
        # a pass through the byte-wise marker reader for each of them.
        while 0 <= ff < len(chunk) - 1 and (
            chunk[ff + 1] == 0 or chunk[ff + 1] in _RST
        ):
            ff = chunk.find(b"\xff", ff + 2)
        return len(chunk) if ff < 0 else ff

    def _segment(self, marker: int) -> _Step:
        """Keep, rewrite or drop one marker segment."""
        length_bytes = yield from self._take(2)
        (length,) = struct.unpack(">H", length_bytes)
        if length < 2:
            raise _refused("JPEG segment shorter than its length field", _BROKEN_IMAGE)
        header, size = bytes((0xFF, marker)) + length_bytes, length - 2
        if marker in _SIZED:
            yield from self._frame(marker, header, size)
        elif marker == _SOS:
            if not self._frame_seen:
                raise _refused("JPEG scan before a frame", _BROKEN_IMAGE)
            self._scan_seen = True
            yield from self._keep(header, size)
        elif marker in _KEPT:
            yield from self._keep(header, size)
        elif marker == _APP0:
            yield from self._jfif(size)
        elif marker == _APP1:
            yield from self._exif(size)
        elif marker == _APP2:
            yield from self._keep_if(header, size, _ICC_IDENT)
        elif marker in _DROPPED:
            yield from self._skip(size)
        else:
            raise _refused(f"JPEG marker {marker:#04x} out of place", _BROKEN_IMAGE)

    def _keep(self, header: bytes, size: int) -> _Step:
        self._emit(header)
        yield from self._pass_on(size)

    def _frame(self, marker: int, header: bytes, size: int) -> _Step:
        if size < 6:
            raise _refused("JPEG frame header too short", _BROKEN_IMAGE)
        head = yield from self._take(5)
        height, width = struct.unpack(">HH", head[1:])
        _check_pixels(width, height, self._max_pixels)
        self._frame_seen = self._frame_seen or marker in _SOF
        self._emit(header + head)
        yield from self._pass_on(size - len(head))

    def _jfif(self, size: int) -> _Step:
        head = yield from self._take(min(size, 14))
        if head.startswith(_JFIF_IDENT) and len(head) == 14:
            # The embedded thumbnail goes: it may still show what a crop removed.
            self._emit(b"\xff\xe0\x00\x10" + head[:12] + b"\x00\x00")
        yield from self._skip(size - len(head))

    def _exif(self, size: int) -> _Step:
        head = yield from self._take(min(size, len(_EXIF_IDENT)))
        if head != _EXIF_IDENT or self._exif_seen:
            # XMP shares APP1; readers honour only the first Exif segment.
            yield from self._skip(size - len(head))
            return
        self._exif_seen = True
        orientation = yield from self._read_orientation(size - len(head))
        if orientation is not None:
            payload = _EXIF_IDENT + _orientation_tiff(orientation)
            self._emit(b"\xff\xe1" + struct.pack(">H", 2 + len(payload)) + payload)

    def _keep_if(self, header: bytes, size: int, ident: bytes) -> _Step:
        head = yield from self._take(min(size, len(ident)))
        if head == ident:
            self._emit(header + head)
            yield from self._pass_on(size - len(head))
        else:
            yield from self._skip(size - len(head))


class _PngSanitizer(Sanitizer):
    """Keep a PNG's pixels and how to show them; drop every other chunk."""

    # Limitation: chunk CRCs are not verified; a damaged kept chunk is passed on
    # and left for the decoder to reject.

    def __init__(self, max_pixels: int) -> None:
        self._orientation: int | None = None
        self._exif_seen = False
        self._idat_seen = False
        super().__init__(max_pixels)

    def _parse(self) -> _Step:
        signature = yield from self._take(len(_PNG_SIGNATURE))
        if signature != _PNG_SIGNATURE:
            raise _refused("PNG without signature", _BROKEN_IMAGE)
        ihdr = yield from self._take(8 + 13 + 4)
        if not ihdr.startswith(_PNG_IHDR_HEAD):
            raise _refused("PNG without IHDR first", _BROKEN_IMAGE)
        width, height = struct.unpack(">II", ihdr[8:16])
        _check_pixels(width, height, self._max_pixels)
        self._emit(signature + ihdr)
        while True:
            header = yield from self._take(8)
            length, kind = struct.unpack(">I4s", header)
            if length > _PNG_MAX_LENGTH or not kind.isalpha():
                raise _refused("PNG chunk header malformed", _BROKEN_IMAGE)
            if kind == b"IEND":
                break
            yield from self._chunk_body(kind, header, length)
        if not self._idat_seen:
            raise _refused("PNG without image data", _BROKEN_IMAGE)
        self._emit(header)
        yield from self._pass_on(length + 4)

    def _chunk_body(self, kind: bytes, header: bytes, length: int) -> _Step:
        """Keep, drop or read one chunk after its header, CRC included."""
        if kind == b"eXIf":
            yield from self._exif(length)
        elif kind not in _PNG_KEPT:
            if kind[:1].isupper():
                raise _refused("PNG with an unknown critical chunk", _BROKEN_IMAGE)
            yield from self._skip(length + 4)
        else:
            if kind == b"IDAT" and not self._idat_seen:
                self._idat_seen = True
                if self._orientation is not None:
                    self._emit(
                        _png_chunk(b"eXIf", _orientation_tiff(self._orientation))
                    )
            self._emit(header)
            yield from self._pass_on(length + 4)

    def _exif(self, length: int) -> _Step:
        taken = yield from self._take(min(length, len(_EXIF_IDENT)))
        # Some writers keep the JPEG-style prefix inside eXIf; decoders accept it.
        head = b"" if taken == _EXIF_IDENT else taken
        orientation = yield from self._read_orientation(length - len(taken), head)
        yield from self._skip(4)
        # Limitation: an eXIf chunk after the image data, which the PNG
        # specification forbids, is dropped and its orientation with it.
        if not self._exif_seen and not self._idat_seen:
            self._orientation = orientation
        self._exif_seen = True


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    """Frame data as a PNG chunk: length, type, data and CRC."""
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


class _PdfSanitizer(Sanitizer):
    """Pass a PDF on unchanged; refuse one whose end-of-file mark is missing."""

    # Limitation: PDF metadata (the document information dictionary and XMP
    # streams, which may name the author or the software) is not removed.

    def _parse(self) -> _Step:
        head = yield from self._take(6)
        if not (head.startswith(b"%PDF-") and head[5:].isdigit()):
            raise _refused("PDF without header", _BROKEN_PDF)
        self._emit(head)
        tail = bytearray(head)
        while True:
            rest = memoryview(self._chunk)[self._pos :]
            self._pos = len(self._chunk)
            self._out += rest
            tail += rest[-_PDF_TAIL:]
            del tail[:-_PDF_TAIL]
            # Let go of the caller's chunk while waiting for the next one.
            rest.release()
            if not (yield):
                break
        if b"%%EOF" not in tail:
            raise _refused("PDF without %%EOF at its end", _BROKEN_PDF)


def sanitizer_for(content_type: str, max_pixels: int) -> Sanitizer:
    """Make the sanitizer for a sniffed type; refuse a type that is not allowed."""
    if content_type == "image/jpeg":
        return _JpegSanitizer(max_pixels)
    if content_type == "image/png":
        return _PngSanitizer(max_pixels)
    if content_type == "application/pdf":
        return _PdfSanitizer(max_pixels)
    raise _refused("type not allowed", _NOT_ALLOWED)
