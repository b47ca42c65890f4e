"""PNG decoding by libspng (through `pyspng`), where it is installed: several times faster than Pillow.

Every Sketchpad drawing reaches the app as an 800x800 RGBA PNG (`benchmarks/inputs/` holds one
that a real Chromium sent), and decoding it is the largest single cost of classifying one.
Only what the two read alike is handed to libspng: 8-bit grey, RGB and RGBA images with no
transparent colour (tRNS), no EXIF (whose orientation Pillow applies) and no animation, whose
chunks are all intact: pyspng skips the checksums, and would turn damaged data into noise that
Pillow refuses. Everything else, and anything libspng cannot read, is left to Pillow, whose
errors `mnist_model.decode` turns into one sentence.

pyspng has wheels for Linux x86-64, macOS arm64 and Windows (requirements.txt installs it only
there); elsewhere Pillow decodes every PNG, as correctly, a little slower.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

from PIL import Image

try:
    import pyspng
except ImportError:  # no wheel for this platform
    pyspng = None

MODES = ("L", "RGB", "RGBA")  # as Pillow names 8-bit grey, RGB and RGBA PNGs
# Chunks that make Pillow's reading differ from the plain pixels: EXIF (the eXIf chunk, or
# ImageMagick's text chunk), whose orientation is applied; APNG's animation control.
PILLOW_ONLY = (b"eXIf", b"Raw profile type exif", b"acTL")


def decode(handle: BinaryIO, image: Image.Image) -> Image.Image | None:
    """The pixels of `image`, a PNG that Pillow has opened from `handle` but not yet decoded,
    decoded by libspng; None where Pillow must decode it (see the module's docstring)."""
    if pyspng is None or image.format != "PNG" or image.mode not in MODES or "transparency" in image.info:
        return None
    if len(image.tile) != 1 or image.tile[0].args != image.mode:  # e.g. "RGB;16B": 16 bits a channel
        return None
    handle.seek(0)
    data = handle.read()
    if any(marker in data for marker in PILLOW_ONLY) or not _chunks_intact(data):
        return None
    try:
        return Image.fromarray(pyspng.load(data, image.mode))  # 8 bits a channel, as `mode` says
    except RuntimeError:  # damaged: Pillow decides how, and says so
        return None


def _chunks_intact(data: bytes) -> bool:
    """Whether every chunk of the PNG `data`, up to IEND, is whole and matches its CRC."""
    view, position = memoryview(data), 8  # after the signature
    while position + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        end = position + 8 + length
        if end + 4 > len(data) or zlib.crc32(view[position + 4 : end]) != struct.unpack_from(">I", data, end)[0]:
            return False
        if kind == b"IEND":
            return True
        position = end + 4
    return False
