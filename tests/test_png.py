"""The libspng fast path for PNGs (`mnist_model.png`): the very pixels Pillow would give, or none.

Every PNG libspng is handed must decode exactly as Pillow decodes it, and every PNG it must not
be handed (transparency by colour key, 16 bits, palettes, grey with alpha, EXIF, animation,
damaged data) must be left to Pillow, so that what the model sees never depends on whether
pyspng is installed.
"""

from __future__ import annotations

import io
import platform
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO_ROOT
from PIL import Image

from mnist_model import png
from mnist_model.decode import ImageError, load_image
from mnist_model.preprocess import preprocess
from testkit.hostile_inputs import corrupt_png, with_png_chunk
from testkit.user_images import encode

DRAWING = REPO_ROOT / "benchmarks" / "inputs" / "sketch_chromium_800x800.png"  # a 7, drawn in Chromium
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*.png"))
# where requirements.txt installs pyspng (the platforms it has wheels for)
HAS_WHEELS = (sys.platform, platform.machine()) in {("linux", "x86_64"), ("darwin", "arm64"), ("win32", "AMD64")}
needs_pyspng = pytest.mark.skipif(png.pyspng is None, reason="pyspng has no wheel for this platform")


def test_pyspng_is_installed_where_requirements_install_it() -> None:
    if HAS_WHEELS:
        assert png.pyspng is not None, "pip install -r requirements.txt installs pyspng on this platform"


def fast(data: bytes) -> Image.Image | None:
    with Image.open(io.BytesIO(data)) as image:
        return png.decode(io.BytesIO(data), image)


def pillow(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def noise(mode: str, size: tuple[int, int] = (97, 61), seed: int = 0) -> Image.Image:
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(axis=2) if channels == 1 else pixels)


@needs_pyspng
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
@pytest.mark.parametrize("level", [0, 1, 9])
def test_pngs_libspng_reads_give_pillows_pixels(mode: str, level: int) -> None:
    data = encode(noise(mode), "PNG", compress_level=level)
    decoded = fast(data)
    assert decoded is not None and decoded.mode == mode
    np.testing.assert_array_equal(np.asarray(decoded), pillow(data))


@needs_pyspng
@pytest.mark.parametrize("path", [DRAWING, *EXAMPLES], ids=lambda path: path.name)
def test_real_pngs_give_pillows_pixels(path: Path) -> None:
    data = path.read_bytes()
    decoded = fast(data)
    assert decoded is not None
    np.testing.assert_array_equal(np.asarray(decoded), pillow(data))


def _apng() -> bytes:
    frames = [noise("RGB", seed=seed) for seed in range(2)]
    return encode(frames[0], "PNG", save_all=True, append_images=frames[1:])


LEFT_TO_PILLOW: dict[str, Image.Image | bytes] = {
    "16-bit grey": Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16),
    "palette": noise("RGB").convert("P"),
    "grey with alpha": noise("RGBA").convert("LA"),
    "colour key (tRNS)": encode(noise("RGB"), "PNG", transparency=(0, 0, 0)),
    "EXIF chunk": with_png_chunk(encode(noise("RGB"), "PNG"), b"eXIf", b"MM\x00*\x00\x00\x00\x08\x00\x00"),
    "EXIF in a text chunk": with_png_chunk(
        encode(noise("RGB"), "PNG"), b"tEXt", b"Raw profile type exif\x00\nexif\n0\n"
    ),
    "animation (APNG)": _apng(),
    "damaged pixel data": corrupt_png(noise("RGB")),
}


@pytest.mark.parametrize("name", list(LEFT_TO_PILLOW))
def test_pngs_that_pillow_reads_differently_are_left_to_pillow(name: str) -> None:
    case = LEFT_TO_PILLOW[name]
    data = case if isinstance(case, bytes) else encode(case, "PNG")
    assert fast(data) is None


def test_damaged_pngs_still_fail_with_pillows_sentence() -> None:
    with pytest.raises(ImageError, match=r"^The uploaded file is damaged or truncated and could not be decoded\.$"):
        load_image(corrupt_png(noise("RGB")))


@needs_pyspng
def test_what_the_model_sees_does_not_depend_on_pyspng(monkeypatch: pytest.MonkeyPatch) -> None:
    sources = [DRAWING, *EXAMPLES, encode(noise("RGBA", (300, 200)), "PNG")]
    with_libspng = [preprocess(source if isinstance(source, bytes) else str(source)) for source in sources]
    monkeypatch.setattr(png, "pyspng", None)  # Pillow decodes every PNG, as where there is no wheel
    for source, expected in zip(sources, with_libspng):
        got = preprocess(source if isinstance(source, bytes) else str(source))
        assert got.preview.tobytes() == expected.preview.tobytes()
        assert (got.tensor is None) == (expected.tensor is None)
        if got.tensor is not None:
            assert np.array_equal(got.tensor.numpy(), expected.tensor.numpy())
