"""Stream a valid PNG of a chosen size without ever holding it in memory.

The image is 16-bit RGBA noise. Its zlib stream uses stored (uncompressed)
deflate blocks, so every length is known before the first byte is sent: the
IDAT chunk's length goes up front, its CRC and the Adler-32 at the end.
"""

import os
import struct
import zlib
from collections.abc import Iterator

SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH = 1000
BYTES_PER_PIXEL = 8  # RGBA, 16 bits per channel
ROW_BYTES = 1 + WIDTH * BYTES_PER_PIXEL  # a filter byte leads each row
STORED_BLOCK = 65535  # the most one stored deflate block can carry
# Sixteen blocks make a chunk of about 1 MiB, few enough calls per megabyte.
BLOCKS_PER_CHUNK = 16
# The noise repeats after this many rows (1 MB): the server only ever sees
# opaque pixel bytes, so fresh noise for every row would buy nothing.
ROWS_PER_PERIOD = 128
# Signature, IHDR, the IDAT frame, the zlib header and trailer, and IEND.
FIXED_BYTES = len(SIGNATURE) + 25 + 12 + 2 + 4 + 12


def _block_count(raw_size: int) -> int:
    return max(1, -(-raw_size // STORED_BLOCK))


def png_size(height: int) -> int:
    """Return the size in bytes of the PNG this module makes for a height."""
    raw = height * ROW_BYTES
    return FIXED_BYTES + raw + 5 * _block_count(raw)


def height_for(size: int) -> int:
    """Return the image height whose PNG comes closest to size bytes."""
    guess = round((size - FIXED_BYTES) / (ROW_BYTES * (1 + 5 / STORED_BLOCK)))
    candidates = [h for h in (guess - 1, guess, guess + 1) if h > 0] or [1]
    return min(candidates, key=lambda h: abs(png_size(h) - size))


class BigPng:
    """A PNG of about `size` bytes, produced chunk by chunk."""

    def __init__(self, size: int) -> None:
        self.width = WIDTH
        self.height = height_for(size)
        self.size = png_size(self.height)
        self._raw_size = self.height * ROW_BYTES
        self._period = _noise_rows()

    @property
    def pixels(self) -> int:
        """Return width times height, as the upload's pixel ceiling counts it."""
        return self.width * self.height

    def chunks(self) -> Iterator[bytes]:
        """Yield the file's bytes front to back, about 1 MiB at a time."""
        ihdr = struct.pack(">IIBBBBB", self.width, self.height, 16, 6, 0, 0, 0)
        zlib_header = b"\x78\x01"
        idat_length = self.size - len(SIGNATURE) - 25 - 12 - 12
        yield (
            SIGNATURE
            + _chunk(b"IHDR", ihdr)
            + struct.pack(">I", idat_length)
            + b"IDAT"
            + zlib_header
        )
        crc, adler = zlib.crc32(b"IDAT" + zlib_header), 1
        doubled = memoryview(self._period * 2)
        total, sent = _block_count(self._raw_size), 0
        for first in range(0, total, BLOCKS_PER_CHUNK):
            framed = bytearray()
            for number in range(first, min(first + BLOCKS_PER_CHUNK, total)):
                length = min(STORED_BLOCK, self._raw_size - sent)
                start = sent % len(self._period)
                data = doubled[start : start + length]
                last = 1 if number == total - 1 else 0
                framed += struct.pack("<BHH", last, length, length ^ 0xFFFF)
                framed += data
                adler = zlib.adler32(data, adler)
                sent += length
            crc = zlib.crc32(framed, crc)
            yield bytes(framed)
        trailer = struct.pack(">I", adler)
        crc = zlib.crc32(trailer, crc)
        yield trailer + struct.pack(">I", crc) + _chunk(b"IEND", b"")


def _noise_rows() -> bytes:
    """Return rows of noise, each led by filter byte 0 (none)."""
    noise = os.urandom(ROWS_PER_PERIOD * (ROW_BYTES - 1))
    step = ROW_BYTES - 1
    return b"".join(
        b"\x00" + noise[row * step : (row + 1) * step] for row in range(ROWS_PER_PERIOD)
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
