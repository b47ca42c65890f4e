"""Images as users send them: the generator, and the app's preprocessing + shipped model on them.

The accuracy part runs 60 MNIST test digits per kind of `testkit/user_images.py` (Sketchpad
canvases and layers, transparent PNGs, coloured / thin / thick pens, white on black, small
off-centre digits, phone photos) through `mnist_model.preprocess.preprocess` and the shipped
weights, as the app does. The full measurement (500 per kind, with baselines and timings) is
`python -m benchmarks.user_accuracy`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter, ImageOps

from mnist_model.data import load_mnist
from testkit.accuracy import KindResult, kind_rng, pick_digits, run_kind
from testkit.user_images import KINDS, SKETCH_CANVAS, make_user_image

PER_KIND = 60
SEED = 0
# Floors, set well below the goals of the benchmark (every kind >= 97%, overall >= 98.5%) so that
# a pipeline that meets the goals passes whatever 60 digits it is given, yet a kind that breaks
# (a lost alpha channel, an unrotated photo, a blank verdict on thin strokes: 20-80% at once)
# or a general slide fails:
# - per kind, >= 90% (at most 6 errors of 60): at a true 97%, errors ~ Binomial(60, 0.03), mean
#   1.8, and 7 or more happen with probability ~0.3%;
# - overall, >= 96% (at most 26 errors of 660): at a true 98.5%, mean 9.9 errors, sd 3.1, so 27
#   is over 5 sd away, while a drop of every kind to ~95% fails it.
# Only 60 digits per kind keeps the whole file well under a minute on two CPU cores.
FLOOR_PER_KIND = 0.90
FLOOR_OVERALL = 0.96


@pytest.fixture(scope="module")
def mnist_test(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    return load_mnist(data_dir, train=False)


@pytest.fixture(scope="module")
def digit(mnist_test: tuple[torch.Tensor, torch.Tensor]) -> np.ndarray:
    return mnist_test[0][0].numpy()  # a 7


@pytest.fixture(scope="module")
def results(mnist_test: tuple[torch.Tensor, torch.Tensor]) -> dict[str, KindResult]:
    from mnist_model.loader import load_model
    from mnist_model.preprocess import preprocess

    images, labels = mnist_test
    model = load_model().model.eval()
    chosen = pick_digits(len(images), KINDS, PER_KIND, SEED)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one image at a time, as the app serves them
    try:
        return {
            kind: run_kind(kind, images, labels, chosen[kind], model, preprocess, kind_rng(SEED, kind))
            for kind in KINDS
        }
    finally:
        torch.set_num_threads(threads)


def _describe(result: KindResult) -> str:
    misses = ", ".join(
        f"#{f.index} {f.label}->{'blank' if f.predicted is None else f.predicted}{f' ({f.error})' if f.error else ''}"
        for f in result.failures
    )
    return f"{result.kind}: {result.correct}/{result.n}, {result.blank} blank; misses: {misses}"


# ---------------------------------------------------------------------------------------------
# Accuracy through the app's path


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.slow
def test_each_kind_of_user_image_is_read_correctly(results: dict[str, KindResult], kind: str) -> None:
    result = results[kind]
    assert result.n == PER_KIND
    assert result.errors == 0, _describe(result)  # preprocess must never raise on these
    assert result.accuracy >= FLOOR_PER_KIND, _describe(result)


@pytest.mark.slow
def test_overall_accuracy_on_user_images(results: dict[str, KindResult]) -> None:
    correct = sum(r.correct for r in results.values())
    total = sum(r.n for r in results.values())
    worst = sorted(results.values(), key=lambda r: r.accuracy)[:3]
    assert correct / total >= FLOOR_OVERALL, f"{correct}/{total}; worst: " + " | ".join(map(_describe, worst))


@pytest.mark.slow
def test_preprocessing_beats_the_naive_resize_by_far(results: dict[str, KindResult]) -> None:
    # the reason preprocess exists: peers' convert("L") + invert + resize reads far fewer
    naive = sum(r.naive_correct for r in results.values())
    ours = sum(r.correct for r in results.values())
    assert ours >= naive + 0.25 * sum(r.n for r in results.values()), (ours, naive)


# ---------------------------------------------------------------------------------------------
# The generator itself


def _ink_box(grey: np.ndarray, dark: bool = True) -> tuple[int, int]:
    ink = grey < 128 if dark else grey > 128
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


@pytest.mark.parametrize(
    "kind", ["sketch_composite", "default_brush", "coloured_pen", "thin_pen", "thick_marker", "off_centre_small"]
)
def test_sketch_kinds_are_opaque_800x800_white_canvases(digit: np.ndarray, kind: str) -> None:
    modes = set()
    for seed in range(6):
        image = make_user_image(digit, kind, np.random.default_rng(seed))
        assert isinstance(image, Image.Image)
        assert image.size == (SKETCH_CANVAS, SKETCH_CANVAS)
        modes.add(image.mode)
        rgba = np.asarray(image.convert("RGBA"))
        assert (rgba[..., 3] == 255).all()
        assert (rgba[..., :3] == 255).all(axis=2).mean() > 0.5  # mostly untouched white
        grey = np.asarray(image.convert("L"))
        assert (grey < 128).any()  # there is ink
    assert modes == {"RGB", "RGBA"}  # both forms a Sketchpad composite may take


def test_sketch_digits_span_20_to_85_percent_of_the_canvas(digit: np.ndarray) -> None:
    heights = [
        _ink_box(np.asarray(make_user_image(digit, "sketch_composite", np.random.default_rng(s)).convert("L")))[0]
        for s in range(20)
    ]
    assert 0.17 * SKETCH_CANVAS <= min(heights) and max(heights) <= 0.88 * SKETCH_CANVAS
    assert max(heights) - min(heights) > 0.3 * SKETCH_CANVAS  # really varied


def test_sketch_layer_is_a_sketchpad_dict_with_ink_only_in_the_alpha(digit: np.ndarray) -> None:
    backgrounds = set()
    for seed in range(6):
        value = make_user_image(digit, "sketch_layer", np.random.default_rng(seed))
        assert isinstance(value, dict) and set(value) == {"background", "layers", "composite"}
        assert value["composite"] is None
        background = value["background"]
        backgrounds.add(background is None)
        if background is not None:
            assert background.mode == "RGBA" and background.size == (SKETCH_CANVAS, SKETCH_CANVAS)
            assert (np.asarray(background) == 255).all()
        (layer,) = value["layers"]
        assert layer.mode == "RGBA" and layer.size == (SKETCH_CANVAS, SKETCH_CANVAS)
        pixels = np.asarray(layer)
        transparent = pixels[..., 3] == 0
        assert transparent.mean() > 0.5
        assert (pixels[transparent] == 0).all()  # stored as (0, 0, 0, 0)
        assert (pixels[..., :3] == 0).all()  # black ink: the RGB channels alone show nothing
        assert (pixels[..., 3] == 255).any()
    assert backgrounds == {True, False}


def test_transparent_png_is_dark_ink_on_transparent_black(digit: np.ndarray) -> None:
    for seed in range(6):
        image = make_user_image(digit, "transparent_png", np.random.default_rng(seed))
        assert image.format == "PNG" and image.mode == "RGBA"
        assert all(200 <= side <= 1000 for side in image.size)
        pixels = np.asarray(image)
        transparent = pixels[..., 3] == 0
        assert transparent.mean() > 0.5
        assert (pixels[transparent] == 0).all()
        inked = pixels[..., 3] > 0
        assert inked.any() and pixels[inked][:, :3].max() <= 80
        assert np.asarray(image.convert("L")).max() <= 80  # dropping alpha leaves all dark


def test_coloured_pen_is_saturated_ink(digit: np.ndarray) -> None:
    for seed in range(6):
        rgb = np.asarray(make_user_image(digit, "coloured_pen", np.random.default_rng(seed)).convert("RGB"))
        spread = rgb.max(axis=2).astype(int) - rgb.min(axis=2)
        assert spread.max() > 70  # a real colour, not grey


def test_thin_pen_is_thin_and_thick_marker_is_thick(digit: np.ndarray) -> None:
    for seed in range(6):
        thin = make_user_image(digit, "thin_pen", np.random.default_rng(seed)).convert("L")
        thick = make_user_image(digit, "thick_marker", np.random.default_rng(seed)).convert("L")
        # MaxFilter on dark ink erodes it: no 5x5 square fits inside a 1-3 px stroke ...
        assert np.asarray(thin).min() < 128
        assert np.asarray(thin.filter(ImageFilter.MaxFilter(5))).min() >= 128
        # ... while a marker's stroke still has ink after eroding by 5 px on each side
        assert np.asarray(thick.filter(ImageFilter.MaxFilter(11))).min() < 128


def test_white_on_black_is_light_ink_on_a_dark_background(digit: np.ndarray) -> None:
    for seed in range(6):
        grey = np.asarray(make_user_image(digit, "white_on_black", np.random.default_rng(seed)).convert("L"))
        assert np.median(grey) < 30 and grey.max() > 200


def test_off_centre_small_is_a_small_digit_and_a_speck(digit: np.ndarray) -> None:
    for seed in range(6):
        grey = np.asarray(make_user_image(digit, "off_centre_small", np.random.default_rng(seed)).convert("L"))
        inked = grey < 128
        assert 0 < inked.mean() < 0.02
        # the digit and the speck(s) lie apart: the ink's bounding box is much larger than the digit
        height, width = _ink_box(grey)
        assert max(height, width) > 0.25 * SKETCH_CANVAS


@pytest.mark.parametrize("kind", ["photo", "photo_exif_rotated"])
def test_photos_are_decoded_jpegs_of_phone_size(digit: np.ndarray, kind: str) -> None:
    for seed in range(3):
        image = make_user_image(digit, kind, np.random.default_rng(seed))
        assert image.format == "JPEG" and image.mode == "RGB"
        assert 1000 <= max(image.size) <= 3000
        grey = np.asarray(image.convert("L"))
        assert 80 < np.median(grey) < 250  # lit paper, never pure white
        assert grey.min() < np.median(grey) - 40  # and ink on it


def test_exif_rotated_photos_are_stored_sideways_and_tagged(digit: np.ndarray) -> None:
    orientations = set()
    for seed in range(8):
        image = make_user_image(digit, "photo_exif_rotated", np.random.default_rng(seed))
        orientation = image.getexif().get(0x0112)
        assert orientation in (3, 6, 8)
        orientations.add(orientation)
        upright = ImageOps.exif_transpose(image)
        if orientation in (6, 8):
            assert upright.size == image.size[::-1]
    assert 6 in orientations  # a phone held upright, the usual case


@pytest.mark.parametrize("kind", KINDS)
def test_the_generator_is_deterministic_for_a_seed(digit: np.ndarray, kind: str) -> None:
    def pixels(seed: int) -> list[np.ndarray]:
        made = make_user_image(digit, kind, np.random.default_rng(seed))
        parts = [made["background"], *made["layers"]] if isinstance(made, dict) else [made]
        return [np.asarray(part) for part in parts if part is not None]

    first, again, other = pixels(7), pixels(7), pixels(8)
    assert len(first) == len(again) and all(np.array_equal(a, b) for a, b in zip(first, again))
    assert len(first) != len(other) or not all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other)
    )


def test_bad_arguments_are_clear_errors(digit: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown kind 'crayon'"):
        make_user_image(digit, "crayon", np.random.default_rng(0))
    with pytest.raises(ValueError, match="28x28 uint8"):
        make_user_image(digit.astype(np.float32), "photo", np.random.default_rng(0))
