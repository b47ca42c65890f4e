"""A corpus of hostile and awkward inputs, built in code, with the answer each must get.

Anyone can upload anything to a public demo: empty files, text under an image extension,
truncated downloads, decompression bombs, images in every odd mode and container, hand-made API
calls with broken Sketchpad values. Each case here says what a user must get back: one clear
error (and the words it must contain), a prediction of the digit drawn, or "blank". The same
corpus drives the in-process and the over-the-wire tests (`tests/test_hostile.py`) and seeds
the fuzzer (`benchmarks/fuzz_preprocess.py`). It is built in code, not committed as binary
files, so every case is readable and reviewable here.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw

from testkit.user_images import encode

Outcome = Literal["error", "prediction", "blank"]

DIGIT = "7"  # what every valid digit in the corpus is drawn as
_SEVEN = [(0.1, 0.05), (0.9, 0.05), (0.45, 1.0)]
_ONE = [(0.5, 0.0), (0.5, 1.0)]

# the words each kind of clear error contains (see `mnist_model.decode`)
EMPTY = "empty"
NOT_AN_IMAGE = "not an image"
DAMAGED = "damaged or truncated"
TOO_BIG = "pixels"
NOT_A_SKETCH = "Sketchpad"


@dataclass(frozen=True)
class FileCase:
    """A file as uploaded: its name (the extension it claims) and bytes, and the answer due."""

    name: str
    filename: str
    data: bytes
    outcome: Outcome
    message: str = ""  # for "error": words the message must contain
    label: str | None = DIGIT  # for "prediction": the top class due (None: any, but stable)

    def __repr__(self) -> str:  # pytest ids and failures: not megabytes of bytes
        return f"FileCase({self.name!r}, {len(self.data)} bytes, {self.outcome})"


@dataclass(frozen=True)
class SketchCase:
    """A Sketchpad value as an API client may send it; bytes stand for image files."""

    name: str
    value: Any
    outcome: Outcome
    message: str = ""
    label: str | None = DIGIT


def draw_digit(
    size: tuple[int, int] = (200, 200), mode: str = "L", stroke: list | None = None
) -> Image.Image:
    """A 7 (or `stroke`) in black ink on white paper, 6% of the height thick."""
    width, height = size
    image = Image.new("L", size, 255)
    box = (0.3 * width, 0.2 * height, 0.7 * width, 0.8 * height)
    points = [(box[0] + u * (box[2] - box[0]), box[1] + v * (box[3] - box[1]))
              for u, v in stroke or _SEVEN]  # fmt: skip
    ImageDraw.Draw(image).line(points, fill=0, width=max(1, round(0.06 * height)), joint="curve")
    return image.convert(mode)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int, extra: bytes = b"") -> bytes:
    """A tiny 8-bit grey PNG whose header declares `width` x `height` (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 1000)
    chunks = _png_chunk(b"IHDR", header) + extra + _png_chunk(b"IDAT", pixels)
    return b"\x89PNG\r\n\x1a\n" + chunks + _png_chunk(b"IEND", b"")


def with_png_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """`png` with one more chunk right after its IHDR (8-byte signature + 25-byte IHDR)."""
    return png[:33] + _png_chunk(kind, data) + png[33:]


def _gif_declaring(width: int, height: int) -> bytes:
    """A GIF whose screen and single frame claim `width` x `height`, with almost no data."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x4c\x01\x00"
    return screen + frame + b"\x3b"


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A baseline JPEG's headers with its frame size patched to `width` x `height`."""
    data = bytearray(encode(Image.new("L", (8, 8), 255), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _tiff_declaring(width: int, height: int) -> bytes:
    """A little-endian TIFF whose one strip claims `width` x `height` 8-bit grey pixels."""
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
               (273, 4, 8), (277, 3, 1), (278, 4, height), (279, 4, 16)]  # fmt: skip
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, 1, value) for tag, kind, value in entries
    )
    return b"II*\0" + struct.pack("<I", 8 + 16) + b"\0" * 16 + ifd + b"\0\0\0\0"


def _webp_declaring(width: int, height: int) -> bytes:
    """A valid animated WebP of two 1x1 frames on a `width` x `height` canvas."""
    frames = [Image.new("L", (1, 1), 255), Image.new("L", (1, 1), 0)]
    data = bytearray(encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True))
    canvas = data.index(b"VP8X") + 12  # after the chunk header and 4 bytes of flags
    data[canvas : canvas + 6] = (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return bytes(data)


def _png_filled(width: int, height: int, pixel: bytes) -> bytes:
    """A PNG of `width` x `height` copies of `pixel` (1 byte: grey, 4: RGBA), compressed row by row."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if len(pixel) == 1 else 6, 0, 0, 0)
    compressor, row = zlib.compressobj(9), b"\0" + pixel * width
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    chunks = _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _exif_block(size: int) -> bytes:
    """A valid little-endian EXIF block whose one tag (a maker note) holds `size` bytes."""
    ifd = struct.pack("<HHHII", 1, 0x927C, 7, size, 26) + b"\0\0\0\0"
    return b"II*\0" + struct.pack("<I", 8) + ifd + (bytes(range(256)) * (size // 256 + 1))[:size]


def _jpeg_with_exif(image: Image.Image, exif: bytes) -> bytes:
    """`image` as a JPEG with an APP1 segment holding "Exif\\0\\0" + `exif` (< 64 KiB)."""
    data = encode(image, "JPEG", quality=90)
    segment = b"Exif\0\0" + exif
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + data[2:]


def _ico_wrapping(png: bytes) -> bytes:
    """An icon whose one entry declares 256x256 and holds `png`, whatever the PNG's own size."""
    entry = struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + png


_EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n0 setgray 10 setlinewidth\n" \
       b"20 90 moveto 80 90 lineto 40 10 lineto stroke\nshowpage\n%%EOF\n"  # fmt: skip


def _strip(length: int, vertical: bool) -> bytes:
    """A 1-pixel-thick white strip `length` long with a dark stretch in its middle fifth."""
    pixels = np.full(length, 255, np.uint8)
    pixels[2 * length // 5 : 3 * length // 5] = 0
    return encode(Image.fromarray(pixels.reshape((-1, 1) if vertical else (1, -1))), "PNG")


def _palette_with_transparency() -> bytes:
    """A palette PNG: black ink (index 1) on a transparent background (index 0, stored black)."""
    ink = np.asarray(draw_digit()) < 128
    image = Image.frombytes("P", (200, 200), ink.astype(np.uint8).tobytes())
    image.putpalette([0, 0, 0, 0, 0, 0])
    return encode(image, "PNG", transparency=0)


def _cmyk() -> Image.Image:
    grey = np.asarray(draw_digit())
    black = 255 - grey  # all the ink in the K channel
    return Image.merge("CMYK", [Image.new("L", (200, 200), 0)] * 3 + [Image.fromarray(black)])


def corrupt_png(image: Image.Image) -> bytes:
    """`image` as a PNG whose pixel data (and so its CRC) has been overwritten in the middle."""
    data = bytearray(encode(image, "PNG"))
    start = data.index(b"IDAT") + 20
    data[start : start + 64] = bytes(64)
    return bytes(data)


def _sketch(background: Any = None, layers: Any = None, composite: Any = None) -> dict[str, Any]:
    """A Sketchpad value as Gradio sends it, with all three keys."""
    return {"background": background, "layers": [] if layers is None else layers, "composite": composite}


def file_cases() -> list[FileCase]:
    """Every uploaded-file case, named; built fresh on each call (under a second)."""
    seven, one = draw_digit(), draw_digit(stroke=_ONE)
    png, jpeg = encode(seven, "PNG"), encode(seven, "JPEG", quality=90)
    pages = {"save_all": True, "append_images": [one]}  # a 7, then a 1
    animated = {**pages, "duration": 100, "loop": 0}
    text = b"just some notes, not a picture\n"
    html = b"<!DOCTYPE html><html><body><img src='7.png'></body></html>\n"
    svg = (b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">'
           b'<path d="M60 40 H140 L90 160" stroke="black" stroke-width="12" fill="none"/></svg>')  # fmt: skip
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
    noise = np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes()
    deep = Image.fromarray(np.asarray(seven).astype(np.uint16) * 257)  # 16-bit grey
    return [
        # empty, mislabelled, truncated and corrupt files: one clear error each
        FileCase("zero-bytes", "empty.png", b"", "error", EMPTY),
        FileCase("text-as-png", "notes.png", text, "error", NOT_AN_IMAGE),
        FileCase("html-as-jpg", "page.jpg", html, "error", NOT_AN_IMAGE),
        FileCase("svg", "digit.svg", svg, "error", NOT_AN_IMAGE),
        FileCase("pdf-as-png", "scan.png", pdf, "error", NOT_AN_IMAGE),
        FileCase("random-bytes", "noise.png", noise, "error", NOT_AN_IMAGE),
        FileCase("png-signature-only", "stub.png", png[:8], "error", NOT_AN_IMAGE),
        FileCase("truncated-png", "cut.png", png[: len(png) // 2], "error", DAMAGED),
        FileCase("truncated-jpeg", "cut.jpg", jpeg[: len(jpeg) // 2], "error", DAMAGED),
        FileCase("truncated-gif", "cut.gif", encode(seven, "GIF")[:200], "error", DAMAGED),
        FileCase("truncated-webp", "cut.webp", encode(seven, "WEBP")[:100], "error", DAMAGED),
        FileCase("corrupt-png", "corrupt.png", corrupt_png(draw_digit()), "error", DAMAGED),
        # decompression bombs: a few hundred bytes declaring billions of pixels
        FileCase("bomb-png", "bomb.png", png_declaring(100_000, 100_000), "error", TOO_BIG),
        FileCase("bomb-png-wide", "wide.png", png_declaring(2_000_000_000, 1), "error", TOO_BIG),
        FileCase("bomb-gif", "bomb.gif", _gif_declaring(65_535, 65_535), "error", TOO_BIG),
        FileCase("bomb-jpeg", "bomb.jpg", _jpeg_declaring(65_000, 65_000), "error", TOO_BIG),
        FileCase("bomb-tiff", "bomb.tiff", _tiff_declaring(100_000, 100_000), "error", TOO_BIG),
        FileCase("bomb-webp", "bomb.webp", _webp_declaring(16_383, 16_383), "error", TOO_BIG),
        # formats left out (`mnist_model.decode.FORMATS`): an icon hiding a 9000x9000 PNG
        # (Pillow would decode it whole, past MAX_PIXELS), JPEG 2000, EPS (Ghostscript)
        FileCase("ico-hiding-a-huge-png", "favicon.ico", _ico_wrapping(_png_filled(9_000, 9_000, b"\xff")),
                 "error", NOT_AN_IMAGE),
        FileCase("jpeg-2000", "digit.jp2", encode(seven, "JPEG2000"), "error", NOT_AN_IMAGE),
        FileCase("eps", "digit.eps", _EPS, "error", NOT_AN_IMAGE),
        # valid images of awkward shapes, modes and containers: a defined answer each
        FileCase("one-pixel", "dot.png", encode(Image.new("L", (1, 1), 0), "PNG"), "blank"),
        FileCase("white-page", "white.png", encode(Image.new("RGB", (800, 800), "white"), "PNG"), "blank"),
        # a dash is no digit, but it is ink: classified, whatever the class
        FileCase("strip-100000x1", "strip.png", _strip(100_000, vertical=False), "prediction", label=None),
        FileCase("strip-1x100000", "column.png", _strip(100_000, vertical=True), "prediction", label="1"),
        # just under MAX_PIXELS in RGBA, 0.2 MB: decoded, in bounded time and memory
        FileCase("near-limit-rgba", "huge.png", _png_filled(6_300, 6_300, b"\xff" * 4), "blank"),
        FileCase("grey-16-bit", "deep.png", encode(deep, "PNG"), "prediction"),
        FileCase("cmyk-jpeg", "print.jpg", encode(_cmyk(), "JPEG", quality=90), "prediction"),
        FileCase("cmyk-tiff", "print.tiff", encode(_cmyk(), "TIFF"), "prediction"),
        FileCase("palette", "palette.png", encode(seven.convert("P"), "PNG"), "prediction"),
        FileCase("palette-transparent", "sticker.png", _palette_with_transparency(), "prediction"),
        FileCase("one-bit", "fax.png", encode(seven.convert("1"), "PNG"), "prediction"),
        FileCase("float-tiff", "float.tiff", encode(seven.convert("F"), "TIFF"), "prediction"),
        FileCase("animated-gif", "anim.gif", encode(seven, "GIF", **animated), "prediction"),
        FileCase("animated-webp", "anim.webp", encode(seven, "WEBP", lossless=True, **animated), "prediction"),
        FileCase("multi-page-tiff", "pages.tiff", encode(seven, "TIFF", **pages), "prediction"),
        FileCase("huge-exif-jpeg", "exif.jpg", _jpeg_with_exif(seven, _exif_block(65_000)), "prediction"),
        FileCase("garbage-exif-jpeg", "junk.jpg", _jpeg_with_exif(seven, b"\xff" * 60_000), "prediction"),
        FileCase("huge-exif-png", "exif.png", with_png_chunk(png, b"eXIf", _exif_block(4_000_000)), "prediction"),
        FileCase("png-named-jpg", "really-a-png.jpg", png, "prediction"),
        FileCase("bmp", "digit.bmp", encode(seven, "BMP"), "prediction"),
    ]


def sketch_cases() -> list[SketchCase]:
    """Sketchpad values as hand-made API calls send them; bytes are image files."""
    seven = draw_digit((800, 800), "RGBA")
    png = encode(seven, "PNG")
    strokes = np.asarray(seven).copy()
    strokes[..., 3] = 255 - strokes[..., 0]  # black ink on transparent black: a Sketchpad layer
    strokes[..., :3] = 0
    layer = encode(Image.fromarray(strokes), "PNG")
    small_layer = encode(Image.fromarray(strokes).resize((300, 200)), "PNG")
    white = encode(Image.new("RGBA", (800, 800), "white"), "PNG")
    return [
        SketchCase("no-keys", {}, "error", NOT_A_SKETCH),
        SketchCase("unknown-keys", {"image": png}, "error", NOT_A_SKETCH),
        SketchCase("not-a-dict", "composite.png", "error", NOT_A_SKETCH),
        SketchCase("list", [png], "error", NOT_A_SKETCH),
        SketchCase("composite-number", _sketch(composite=42), "error", NOT_A_SKETCH),
        SketchCase("composite-path-string", _sketch(composite="/etc/passwd"), "error", NOT_A_SKETCH),
        SketchCase("layers-string", _sketch(layers="strokes.png"), "error", NOT_A_SKETCH),
        SketchCase("layer-number", _sketch(layers=[7]), "error", NOT_A_SKETCH),
        SketchCase("layer-not-an-image", _sketch(white, [b"<html></html>"]), "error", NOT_AN_IMAGE),
        SketchCase("empty", _sketch(), "blank"),
        SketchCase("composite-only", {"composite": png}, "prediction"),
        SketchCase("background-without-composite", _sketch(background=png), "prediction"),
        SketchCase("layer-on-white", _sketch(white, [layer]), "prediction"),
        SketchCase("layer-without-background", _sketch(layers=[layer]), "prediction"),
        SketchCase("layers-of-mismatched-sizes", _sketch(white, [layer, small_layer]), "prediction"),
    ]
