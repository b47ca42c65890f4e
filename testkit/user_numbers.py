"""Whole numbers as users write them (a year, a price, a phone number), and the loop that reads them.

People rarely write one digit. They write 2026 across the canvas: digits of slightly different
heights, uneven gaps, a line that drifts up or down, in whatever pen they have, or on paper they
then photograph. Each number here is made of 2-6 MNIST *test* digits, so every digit's label is
known and the model never saw it, laid out left to right and rendered in the ways
`testkit.user_images` renders one digit (its ink shapes, canvases and pens are reused):

    rng = np.random.default_rng(0)
    image = make_user_number([digit_a, digit_b, digit_c, digit_d], "sketch_composite", rng)
    value = make_user_number(digits, "sketch_layer", rng, canvas=(1200, 600))   # a Sketchpad dict
    image = make_user_number(digits, "photo", rng, touching=(0.0, 0.04))   # a pair touches, overlapping 0-4%

A number "with visible gaps" leaves a band of paper at least a tenth of the digits' height wide
between neighbours' ink; a `touching` number has one pair of neighbours whose ink touches and
overlaps by an amount drawn from the given range (in digit heights), the hard case that is
reported on its own, by how far the pair overlaps. Gradio's default brush is as wide
for a long number as for one digit, so 5-6 digits written with it on the 800x800 canvas come out
heavy, loops filled in, as such a drawing does. The generator is deterministic for a given
`numpy.random.Generator` state.

`read_numbers` runs numbers through a reader that turns an input into its text (such as
`mnist_model.predict.Classifier.read_number`'s `text`, "?" for a piece that is not a digit); the benchmark
(`python -m benchmarks.number_accuracy`) and `tests/test_numbers.py` both call it, so the test
checks exactly what the benchmark measures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from testkit.user_images import (
    _PEN_COLOURS,
    _brush_ink,
    _crop,
    _jpeg,
    _pen_level,
    _smooth_ink,
    _to_mask,
    _transparent_rgba,
    photograph,
    _white_canvas,
)

KINDS: tuple[str, ...] = (
    "sketch_composite",  # Sketchpad composite: opaque white canvas, black ink
    "sketch_layer",  # Sketchpad dict: the ink only in a transparent layer stored as (0, 0, 0, 0)
    "default_brush",  # Sketchpad with Gradio's default brush (radius 1/50 of the canvas' short side)
    "coloured_pen",  # red / blue / green / purple ink on white
    "thin_pen",  # 1-3 px strokes
    "thick_marker",  # felt marker: strokes 14-20% of the digit's height
    "photo",  # phone photo of the number on paper: lighting, rotation, noise, blur, JPEG
)
CANVAS = (900, 450)  # width, height: the app's Sketchpad canvas (app.CANVAS; tests/test_app.py checks)
GAP = (0.1, 0.5)  # visible gaps between neighbours' ink, in digit heights
HEIGHTS = (0.8, 1.2)  # each digit's height, relative to the number's
SLOPE_DEGREES = 5.0  # the line rises or falls by up to this much
JITTER = 0.05  # each digit's baseline wanders by up to this much of the height


def make_user_number(
    digits: Sequence[np.ndarray],
    kind: str,
    rng: np.random.Generator,
    canvas: tuple[int, int] = CANVAS,
    touching: tuple[float, float] | None = None,
) -> Image.Image | dict[str, Any]:
    """MNIST digits (28x28 uint8, white on black) written as one number, for `kind` in KINDS.

    `canvas` is the drawing's (width, height) for every kind but "photo", whose size is a phone's.
    Returns a PIL image, or for "sketch_layer" the dict a Gradio Sketchpad hands to its callback.
    """
    if not 1 <= len(digits) <= 12:
        raise ValueError(f"expected 1 to 12 digits, got {len(digits)}")
    digits = [np.asarray(digit) for digit in digits]
    if any(digit.shape != (28, 28) or digit.dtype != np.uint8 for digit in digits):
        raise ValueError("expected 28x28 uint8 MNIST digits")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if kind == "photo":
        return _photo(digits, rng, touching)
    width, height = canvas
    pen = _pen(kind, rng, min(canvas))
    mask = _write(digits, (height, width), rng, pen, touching)
    if kind == "sketch_layer":
        layer = _transparent_rgba(mask, (0, 0, 0))
        background = Image.new("RGBA", canvas, (255, 255, 255, 255)) if rng.random() < 0.5 else None
        return {"background": background, "layers": [layer], "composite": None}
    ink = (0, 0, 0)
    if kind == "coloured_pen":
        name = list(_PEN_COLOURS)[int(rng.integers(len(_PEN_COLOURS)))]
        ink = tuple(int(rng.integers(low, high + 1)) for low, high in _PEN_COLOURS[name])
    return _white_canvas(mask, rng, ink=ink)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Layout: digits side by side on one gently sloped line


@dataclass(frozen=True)
class Pen:
    """How a kind draws one digit of a given height; the same pen writes every digit of a number."""

    draw: Callable[[np.ndarray, float], np.ndarray]  # (digit, ink height in px) -> alpha in [0, 1]
    least: float = 0.0  # the smallest height in px it writes at, where the number fits


def _pen(kind: str, rng: np.random.Generator, short_side: int) -> Pen:
    """The pen of `kind` on a canvas whose shorter side is `short_side` px."""
    if kind == "default_brush":
        # a fixed brush: people write larger with it, no smaller than 7 brush widths where the
        # canvas allows, so that its stroke stays under a marker's 14% of the height
        width = 2 * short_side / 50 * float(rng.uniform(0.9, 1.1))
        return Pen(lambda digit, height: _brush_ink(digit, height, width), least=7 * width)
    if kind == "thin_pen":
        width = float(rng.uniform(1.0, 3.0))
        return Pen(lambda digit, height: _brush_ink(digit, height, width))
    if kind == "thick_marker":
        share = float(rng.uniform(0.14, 0.2))
        return Pen(lambda digit, height: _brush_ink(digit, height, share * height))
    level = _pen_level(rng)
    return Pen(lambda digit, height: _smooth_ink(digit, height, level))


def _write(
    digits: list[np.ndarray],
    shape: tuple[int, int],
    rng: np.random.Generator,
    pen: Pen,
    touching: tuple[float, float] | None,
) -> Image.Image:
    """The digits' ink, left to right on a sloped line, as an "L" mask of `shape` (rows, columns).

    The number's height is chosen so that it fits the canvas with room to spare; each digit then
    varies around it, stands on the line's baseline give or take a little, and keeps a visible
    gap to its neighbour, but for one pair whose ink touches and overlaps by an amount drawn from
    the range `touching` (of the height), when given.
    """
    rows, columns = shape
    count = len(digits)
    scales = rng.uniform(*HEIGHTS, size=count)
    gaps = rng.uniform(*GAP, size=count - 1)
    jitters = rng.uniform(-JITTER, JITTER, size=count)
    touch = int(rng.integers(count - 1)) if touching and count > 1 else -1
    overlap = float(rng.uniform(*touching)) if touching else 0.0
    slope = float(np.tan(np.radians(rng.uniform(-SLOPE_DEGREES, SLOPE_DEGREES))))
    # the number's width in units of its height: each digit's ink, the pen around it, the gaps
    span = float(sum(s * (_aspect(digit) + 0.2) for s, digit in zip(scales, digits)) + gaps.sum())
    fit = min(0.9 * columns / span, 0.55 * rows / (HEIGHTS[1] + abs(slope) * span + 2 * JITTER))
    height = min(fit, max(pen.least, fit * float(rng.uniform(0.55, 1.0))))
    while True:  # once more, smaller, in the rare case a wide pen made it too big after all
        shapes = [_trim(pen.draw(digit, float(s * height))) for digit, s in zip(digits, scales)]
        lefts, bottoms = _line_up(shapes, height, gaps, jitters, slope, touch, overlap)
        tops = [bottom - alpha.shape[0] for bottom, alpha in zip(bottoms, shapes)]
        width = max(left + alpha.shape[1] for left, alpha in zip(lefts, shapes)) - min(lefts)
        tall = max(bottoms) - min(tops)
        if width <= columns and tall <= rows or height < 4:
            break
        height *= 0.95 * min(columns / width, rows / tall)
    x0 = int(rng.integers(0, max(0, columns - width) + 1)) - min(lefts)
    y0 = int(rng.integers(0, max(0, rows - tall) + 1)) - min(tops)
    ink = np.zeros(shape, np.float32)
    for left, top, alpha in zip(lefts, tops, shapes):
        _stamp(ink, alpha, x0 + left, y0 + top)
    return _to_mask(ink)


def _line_up(
    shapes: list[np.ndarray],
    height: float,
    gaps: np.ndarray,
    jitters: np.ndarray,
    slope: float,
    touch: int,
    overlap: float,
) -> tuple[list[int], list[int]]:
    """Each digit's left edge and bottom row, relative to the first digit's left edge.

    A digit's bottom follows the sloped baseline at its centre, plus its jitter; the pair after
    digit `touch` is pushed together until their inks touch, then `overlap` (of `height`) more.
    """
    lefts = [0]
    bottoms = [round(slope * shapes[0].shape[1] / 2 + jitters[0] * height)]
    for index in range(len(shapes) - 1):
        here, after = shapes[index], shapes[index + 1]
        gap = max(1, round(gaps[index] * height))
        centre = lefts[index] + here.shape[1] + (0 if index == touch else gap) + after.shape[1] / 2
        bottoms.append(round(slope * centre + jitters[index + 1] * height))
        if index == touch:
            step = _contact(here, after, bottoms[index + 1] - bottoms[index]) - round(overlap * height)
        else:
            step = here.shape[1] + gap
        lefts.append(lefts[index] + step)
    return lefts, bottoms


def _aspect(digit: np.ndarray) -> float:
    """Width over height of the digit's ink."""
    crop, ink_height = _crop(digit, pad=0)
    return crop.shape[1] / max(ink_height, 1)


def _trim(alpha: np.ndarray) -> np.ndarray:
    """An alpha map cut to the box of its ink."""
    rows, cols = np.flatnonzero(alpha.max(axis=1) > 0), np.flatnonzero(alpha.max(axis=0) > 0)
    if not rows.size:
        return alpha[:1, :1]
    return alpha[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _contact(left: np.ndarray, right: np.ndarray, drop: int) -> int:
    """How far right of `left`'s left edge `right` starts when their inks just touch, `right`'s
    bottom row lying `drop` rows below `left`'s."""
    left_rows = np.arange(left.shape[0]) - left.shape[0]  # rows counted from left's bottom
    right_rows = np.arange(right.shape[0]) - right.shape[0] + drop
    inked_left, inked_right = left > 0.5, right > 0.5
    last = np.where(inked_left.any(axis=1), left.shape[1] - 1 - np.argmax(inked_left[:, ::-1], axis=1), -1)
    first = np.where(inked_right.any(axis=1), np.argmax(inked_right, axis=1), right.shape[1])
    common = np.intersect1d(left_rows[last >= 0], right_rows[first < right.shape[1]])
    if not common.size:  # no row in common: side by side
        return left.shape[1]
    reach = last[common + left.shape[0]]
    start = first[common + right.shape[0] - drop]
    return int((reach - start).max()) + 1


def _stamp(ink: np.ndarray, alpha: np.ndarray, left: int, top: int) -> None:
    """`alpha` drawn onto `ink` (the darker of the two wins) at (left, top), clipped to the canvas."""
    rows, columns = ink.shape
    y0, x0 = max(0, top), max(0, left)
    y1, x1 = min(rows, top + alpha.shape[0]), min(columns, left + alpha.shape[1])
    if y0 < y1 and x0 < x1:
        part = alpha[y0 - top : y1 - top, x0 - left : x1 - left]
        np.maximum(ink[y0:y1, x0:x1], part, out=ink[y0:y1, x0:x1])


# ---------------------------------------------------------------------------------------------
# A phone photo of the number on paper


def _photo(digits: list[np.ndarray], rng: np.random.Generator, touching: tuple[float, float] | None) -> Image.Image:
    """The number written on paper and photographed, as `testkit.user_images`' "photo" kind does
    for one digit: pencil, ballpoint or felt pen, paper and light, blur, noise, JPEG. The paper
    and the light follow that recipe here, as that kind builds them around one digit's ink."""
    long_side = int(rng.integers(1000, 3001))
    aspect = [4 / 3, 3 / 4, 1.0, 16 / 9][int(rng.integers(4))]
    W, H = (long_side, round(long_side / aspect)) if aspect >= 1 else (round(long_side * aspect), long_side)
    work = min(1.0, 900 / max(W, H))  # composed at <= 900 px and enlarged at the end
    w, h = max(1, round(W * work)), max(1, round(H * work))
    pen = ["pencil", "ballpoint", "felt"][int(rng.integers(3))]
    level = _pen_level(rng)
    margin = int(0.08 * min(w, h))
    mask = _write(digits, (h - 2 * margin, w - 2 * margin), rng, Pen(lambda d, s: _smooth_ink(d, s, level)), touching)
    mask = mask.rotate(float(rng.uniform(-3, 3)), resample=Image.Resampling.BICUBIC)
    paper_mask = Image.new("L", (w, h), 0)
    paper_mask.paste(mask, (margin, margin))
    mask = paper_mask
    return _jpeg(photograph(mask, pen, (W, H), rng), rng)


# ---------------------------------------------------------------------------------------------
# Reading numbers: the loop the benchmark and the test share


VARIANTS: dict[str, tuple[tuple[int, ...], tuple[float, float] | None]] = {  # name -> (digit counts, overlap)
    "2-4 digits": ((2, 3, 4), None),
    "5-8 digits": ((5, 6, 7, 8), None),
    "touch 0-4%": ((2, 3, 4), (0.0, 0.04)),  # one pair touching, its ink overlapping this much of the height
    "touch 4-8%": ((2, 3, 4), (0.04, 0.08)),
    "touch 8-12%": ((2, 3, 4), (0.08, 0.12)),
}


@dataclass
class Miss:
    indices: tuple[int, ...]  # in the MNIST test set
    truth: str
    read: str  # "" for blank, "?" for a "not a digit" verdict
    error: str | None = None  # the preprocessing raised


@dataclass
class NumberResult:
    kind: str
    variant: str
    n: int = 0
    exact: int = 0  # numbers read exactly
    count_right: int = 0  # numbers split into the right count of digits
    digits: int = 0  # digits written
    digits_right: int = 0  # digits written minus the edits from what was read to what was written
    errors: int = 0  # the preprocessing raised
    generate_s: float = 0.0
    read_s: float = 0.0  # preprocessing and the model together
    misses: list[Miss] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.exact / max(1, self.n)

    @property
    def digit_accuracy(self) -> float:
        return self.digits_right / max(1, self.digits)


def pick_numbers(n_test: int, counts: Sequence[int], numbers: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`numbers` numbers of test indices, each of a length drawn from `counts`."""
    return [rng.choice(n_test, size=int(rng.choice(counts)), replace=False) for _ in range(numbers)]


def variant_rng(seed: int, kind: str, variant: str) -> np.random.Generator:
    """One generator per (seed, kind, variant): its numbers do not depend on what else runs."""
    return np.random.default_rng([seed, KINDS.index(kind), list(VARIANTS).index(variant)])


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions from `a` to `b`."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def read_numbers(
    kind: str,
    variant: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    numbers: int,
    read: Callable[[Any], str],
    seed: int,
    canvas: tuple[int, int] = CANVAS,
) -> NumberResult:
    """Write `numbers` numbers of `variant` (see VARIANTS) in `kind` and read each one back.

    `read` turns an image into the number's text ("" when blank, "?" for a piece that is not a
    digit). Exact: every digit right and none missing or extra. Per
    digit: the digits written less the edit distance from what was read, as OCR counts characters.
    """
    counts, touching = VARIANTS[variant]
    rng = variant_rng(seed, kind, variant)
    result = NumberResult(kind, variant)
    for indices in pick_numbers(len(images), counts, numbers, rng):
        truth = "".join(str(int(labels[i])) for i in indices)
        started = time.perf_counter()
        image = make_user_number([images[i].numpy() for i in indices], kind, rng, canvas, touching)
        result.generate_s += time.perf_counter() - started
        result.n += 1
        result.digits += len(truth)
        started = time.perf_counter()
        try:
            text = read(image)
        except Exception as error:  # noqa: BLE001 - a crash on a user's number is a failure we report
            result.read_s += time.perf_counter() - started
            result.errors += 1
            result.misses.append(Miss(tuple(indices.tolist()), truth, "", f"{type(error).__name__}: {error}"))
            continue
        result.read_s += time.perf_counter() - started
        result.count_right += len(text) == len(truth)
        result.digits_right += max(0, len(truth) - edit_distance(truth, text))
        if text == truth:
            result.exact += 1
        else:
            result.misses.append(Miss(tuple(indices.tolist()), truth, text))
    return result
