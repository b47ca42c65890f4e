"""Synthetic training images for what MNIST lacks: printed digits, and things that are not digits.

MNIST holds handwritten digits only, so a model trained on it alone reads a typed "1" with a
flag and a foot as a 7, and answers every letter, star or scribble with some digit. This module
draws both missing kinds of example and sends each one through the app's own preprocessing
(`mnist_model.preprocess.to_mnist`), so the model trains on exactly what it is later shown:

- printed digits: the ten digits typed in fonts (serif, sans, mono, condensed; bold, italic,
  thin), slightly rotated, slanted and warped, and a share of 7s with a bar through the stem;
- not a digit (label `NOT_A_DIGIT`): letters in both cases (except `LETTERS_LIKE_DIGITS`),
  symbols, hand-drawn shapes (star, heart, smiley, spiral, arrow...), scribbles, short words
  and smudges. (Photos of empty paper need no teaching: the ink finder calls them blank.)

Fonts come from two families only, DejaVu (`fonts-dejavu-core`) and Liberation
(`fonts-liberation2`); DejaVu Serif is held out of training (`font_files(held_out=True)`) so
that the benchmark can judge the model on a font it never saw.

    rng = np.random.default_rng(0)
    images, labels = make_synthetic(printed=100, not_digits=200, rng=rng)  # uint8 (300, 28, 28)
"""

from __future__ import annotations

import math
import os
import string
from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tqdm.auto import tqdm

from .model import NOT_A_DIGIT
from .preprocess import to_mnist

FONTS_DIR_ENV = "MNIST_FONTS_DIR"  # a folder of the two families' .ttf files, searched first
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation2"))
FAMILIES = ("DejaVu", "Liberation")
HELD_OUT = "DejaVuSerif"  # font files whose name starts with this are kept for judging
# Letters honestly shaped like a digit (O/0, I/1, S/5, Z/2, B/8, G/6, b/6, g/9, q/9): a model
# may read them as digits, so they are not taught as "not a digit".
LETTERS_LIKE_DIGITS = "OoIilSsZzBGbgq"
LETTERS = "".join(c for c in string.ascii_letters if c not in LETTERS_LIKE_DIGITS)
# No brackets or bars: squeezed into the digit box they are a "1".
SYMBOLS = "#@&%?+=*$<>^~€£¥§¶©®π∑Ω√∞≠±÷×"
SHAPES = ("star", "heart", "smiley", "spiral", "triangle", "square", "arrow", "check", "zigzag", "wave",
          "lightning", "grid")  # fmt: skip
# Shares of the "not a digit" examples; the rest of the list's order is arbitrary.
NOT_DIGIT_KINDS = {"letter": 0.28, "symbol": 0.18, "shape": 0.14, "scribble": 0.18, "word": 0.07,
                   "smudge": 0.15}  # fmt: skip


class FontsNotFoundError(RuntimeError):
    """Neither font family is installed where this module looks."""


def font_files(held_out: bool = False) -> list[Path]:
    """The DejaVu and Liberation font files to type with: training's, or the held-out DejaVu Serif."""
    folders = [Path(os.environ[FONTS_DIR_ENV])] if os.environ.get(FONTS_DIR_ENV) else []
    found: dict[str, Path] = {}
    for folder in [*folders, *FONT_DIRS]:
        for path in sorted(folder.glob("*.ttf")) if folder.is_dir() else []:
            if path.name.startswith(FAMILIES) and "Math" not in path.name:
                found.setdefault(path.name, path)
    chosen = [path for name, path in sorted(found.items()) if name.startswith(HELD_OUT) == held_out]
    if not chosen:
        raise FontsNotFoundError(
            "no DejaVu or Liberation fonts found: install the Debian packages fonts-dejavu-core and "
            f"fonts-liberation2, or point ${FONTS_DIR_ENV} at a folder holding their .ttf files"
        )
    return chosen


def make_synthetic(
    printed: int, not_digits: int, rng: np.random.Generator, held_out: bool = False, progress: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """`printed` typed digits (labels 0-9, cycling) and `not_digits` non-digits, shuffled, as
    MNIST-format uint8 (N, 28, 28) images and int64 labels, each made by the app's preprocessing."""
    fonts = font_files(held_out)
    kinds = list(NOT_DIGIT_KINDS)
    shares = np.array(list(NOT_DIGIT_KINDS.values()))
    jobs = [(i % 10, None) for i in range(printed)]
    jobs += [(NOT_A_DIGIT, kind) for kind in rng.choice(kinds, size=not_digits, p=shares / shares.sum())]
    images = np.zeros((len(jobs), 28, 28), np.uint8)
    bar = tqdm(jobs, desc="drawing printed digits and non-digits", unit="image", leave=False, disable=not progress)
    for i, (label, kind) in enumerate(bar):
        images[i] = _mnist_format(partial(_draw, label, kind, fonts, rng))
    order = rng.permutation(len(jobs))
    labels = torch.tensor([label for label, _ in jobs], dtype=torch.int64)
    return torch.from_numpy(images[order]), labels[torch.from_numpy(order)]


def draw_printed_digit(digit: int, fonts: list[Path], rng: np.random.Generator) -> Image.Image:
    """A digit typed in one of `fonts`: black on white, any size, slightly warped."""
    font = fonts[rng.integers(len(fonts))]
    ink = _typed(str(digit), font, rng)
    if digit == 7 and rng.random() < 0.35:
        ink = _bar_through_stem(ink)
    return _on_paper(_warp(ink, rng, strength=0.6))


def draw_not_digit(kind: str, fonts: list[Path], rng: np.random.Generator) -> Image.Image:
    """One thing that is not a digit, of `kind` in `NOT_DIGIT_KINDS`: black on white."""
    if kind == "letter":
        ink = _typed(LETTERS[rng.integers(len(LETTERS))], fonts[rng.integers(len(fonts))], rng)
    elif kind == "symbol":
        ink = _typed(SYMBOLS[rng.integers(len(SYMBOLS))], fonts[rng.integers(len(fonts))], rng)
    elif kind == "word":
        word = "".join(rng.choice(list(string.ascii_letters), size=rng.integers(2, 6)))
        ink = _typed(word, fonts[rng.integers(len(fonts))], rng)
    elif kind == "shape":
        ink = _shape(SHAPES[rng.integers(len(SHAPES))], rng)
    elif kind == "scribble":
        ink = _scribble(rng)
    elif kind == "smudge":
        ink = _smudge(rng)
    else:
        raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(NOT_DIGIT_KINDS)}")
    return _on_paper(_warp(ink, rng, strength=1.0))


def _draw(label: int, kind: str | None, fonts: list[Path], rng: np.random.Generator) -> Image.Image:
    return draw_printed_digit(label, fonts, rng) if kind is None else draw_not_digit(kind, fonts, rng)


def _mnist_format(draw: Callable[[], Image.Image], tries: int = 20) -> np.ndarray:
    """The first drawing the preprocessing finds ink in, as a uint8 28x28 MNIST image."""
    for _ in range(tries):
        item = to_mnist(draw())
        if item.tensor is not None:
            return (item.tensor[0].numpy() * 255).round().astype(np.uint8)
    raise RuntimeError("the preprocessing found no ink in any of the drawings")  # a generator bug


# --------------------------------------------------------------------------------------------
# Drawing: every helper returns an "L" ink mask (255 = ink on 0) sized to the ink plus a margin


@lru_cache(maxsize=512)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def _typed(text: str, font_path: Path, rng: np.random.Generator) -> Image.Image:
    size = int(rng.integers(40, 110))
    bold = int(rng.integers(1, max(2, size // 18))) if rng.random() < 0.25 else 0
    font = _font(font_path, size)
    left, top, right, bottom = font.getbbox(text, stroke_width=bold)
    pad = size // 4
    mask = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(mask).text((pad - left, pad - top), text, fill=255, font=font, stroke_width=bold,
                              stroke_fill=255)  # fmt: skip
    return mask


def _bar_through_stem(ink: Image.Image) -> Image.Image:
    """A 7 written the continental way: a short bar across the stem at mid-height."""
    pixels = np.asarray(ink) > 127
    rows = np.flatnonzero(pixels.any(axis=1))
    cols = np.flatnonzero(pixels.any(axis=0))
    if not rows.size:
        return ink
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    row = rows[0] + int(height * 0.55)
    inked = np.flatnonzero(pixels[row])
    centre = int(inked.mean()) if inked.size else int(cols.mean())
    thickness = max(2, int(pixels.sum() / max(height + width, 1) / 1.5))
    bar = ink.copy()
    half = int(width * 0.28)
    ImageDraw.Draw(bar).rectangle((centre - half, row - thickness // 2, centre + half, row + thickness // 2), fill=255)
    return bar


def _pen(points: np.ndarray, width: int, size: int, closed: bool = False) -> Image.Image:
    """A polyline through `points` (in [0, 1]^2) drawn with a round pen on a size x size mask."""
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    xy = [tuple(p) for p in (points * (size * 0.7) + size * 0.15).tolist()]
    if closed:
        xy.append(xy[0])
    draw.line(xy, fill=255, width=width, joint="curve")
    for x, y in (xy[0], xy[-1]):
        draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    return mask


def _jitter(points: np.ndarray, rng: np.random.Generator, amount: float = 0.015) -> np.ndarray:
    return points + rng.normal(0, amount, points.shape)


def _shape(name: str, rng: np.random.Generator) -> Image.Image:
    size, width = 128, int(rng.integers(4, 13))
    t = np.linspace(0, 2 * np.pi, 80)
    strokes: list[tuple[np.ndarray, bool]]
    if name == "star":
        angles = np.pi / 2 + np.arange(10) * np.pi / 5
        radius = np.where(np.arange(10) % 2 == 0, 0.5, rng.uniform(0.18, 0.28))
        strokes = [(np.stack([0.5 + radius * np.cos(angles), 0.5 - radius * np.sin(angles)], 1), True)]
    elif name == "heart":
        x, y = 16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        strokes = [(np.stack([0.5 + x / 36, 0.45 - y / 36], 1), True)]
    elif name == "smiley":
        face = np.stack([0.5 + 0.5 * np.cos(t), 0.5 + 0.5 * np.sin(t)], 1)
        s = np.linspace(0.2 * np.pi, 0.8 * np.pi, 20)
        mouth = np.stack([0.5 + 0.28 * np.cos(s), 0.52 + 0.24 * np.sin(s)], 1)
        eyes = [np.array([[0.35, 0.33], [0.35, 0.4]]), np.array([[0.65, 0.33], [0.65, 0.4]])]
        strokes = [(face, True), (mouth, False), *((eye, False) for eye in eyes)]
    elif name == "spiral":
        s = np.linspace(0, rng.uniform(3, 5) * np.pi, 120)
        strokes = [(np.stack([0.5 + s / 30 * np.cos(s), 0.5 + s / 30 * np.sin(s)], 1), False)]
    elif name == "triangle":
        strokes = [(np.array([[0.5, 0.0], [1.0, 0.9], [0.0, 0.9]]), True)]
    elif name == "square":
        strokes = [(np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]), True)]
    elif name == "arrow":
        strokes = [(np.array([[0.0, 0.5], [1.0, 0.5]]), False), (np.array([[0.7, 0.25], [1.0, 0.5], [0.7, 0.75]]), False)]
    elif name == "check":
        strokes = [(np.array([[0.0, 0.55], [0.35, 0.9], [1.0, 0.05]]), False)]
    elif name == "zigzag":
        n = int(rng.integers(3, 7))
        strokes = [(np.stack([np.linspace(0, 1, n + 1), np.where(np.arange(n + 1) % 2, 0.25, 0.75)], 1), False)]
    elif name == "wave":
        s = np.linspace(0, 1, 60)
        strokes = [(np.stack([s, 0.5 + 0.2 * np.sin(s * rng.uniform(2, 4) * 2 * np.pi)], 1), False)]
    elif name == "lightning":
        strokes = [(np.array([[0.6, 0.0], [0.3, 0.5], [0.65, 0.5], [0.35, 1.0]]), False)]
    elif name == "grid":
        strokes = [(np.array([[x, 0.0], [x, 1.0]]), False) for x in (0.33, 0.66)]
        strokes += [(np.array([[0.0, y], [1.0, y]]), False) for y in (0.33, 0.66)]
    else:
        raise ValueError(f"unknown shape {name!r}")
    mask = Image.new("L", (size, size), 0)
    for points, closed in strokes:
        mask = Image.fromarray(np.maximum(np.asarray(mask), np.asarray(_pen(_jitter(points, rng), width, size, closed))))
    return mask


def _scribble(rng: np.random.Generator) -> Image.Image:
    """A scrawl: random control points rounded off by Chaikin's corner cutting, or the tight
    back-and-forth of a crossing-out. Enough turns that no digit is drawn by chance."""
    if rng.random() < 0.3:
        turns = int(rng.integers(6, 12))
        xs = np.where(np.arange(turns) % 2, rng.uniform(0.75, 1, turns), rng.uniform(0, 0.25, turns))
        points = np.stack([xs, np.linspace(0, 1, turns) + rng.normal(0, 0.03, turns)], 1)
        return _pen(points, int(rng.integers(3, 12)), 128)
    points = rng.uniform(0, 1, (int(rng.integers(8, 20)), 2))
    for _ in range(4):
        cut = np.stack([0.75 * points[:-1] + 0.25 * points[1:], 0.25 * points[:-1] + 0.75 * points[1:]], axis=1)
        points = cut.reshape(-1, 2)
    return _pen(points, int(rng.integers(3, 12)), 128)


def _smudge(rng: np.random.Generator) -> Image.Image:
    """Blurred overlapping blobs, as a thumb or an eraser leaves them, or a solid blot of ink."""
    if rng.random() < 0.5:
        angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(6, 12))))
        radius = rng.uniform(0.3, 0.5, angles.size)  # roundish: a long thin blot is what a "1" is
        outline = np.stack([0.5 + radius * np.cos(angles), 0.5 + radius * np.sin(angles)], 1) * 96 + 16
        blot = Image.new("L", (128, 128), 0)
        ImageDraw.Draw(blot).polygon([tuple(p) for p in outline.tolist()], fill=255)
        return blot.filter(ImageFilter.GaussianBlur(float(rng.uniform(1, 4)))).point(lambda v: 255 if v > 127 else 0)
    mask = Image.new("L", (128, 128), 0)
    draw = ImageDraw.Draw(mask)
    for _ in range(int(rng.integers(1, 6))):
        x, y = rng.uniform(30, 98, 2)
        rx, ry = rng.uniform(8, 34, 2)
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=int(rng.integers(120, 256)))
    return mask.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 9))))


def _warp(ink: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    """Rotated, slanted, stretched and smoothly bent a little, as a hand or a camera would.

    Plain numpy (bilinear sampling): drawing runs beside training, whose threads a per-image
    torch call would contend with.
    """
    angle = math.radians(rng.uniform(-10, 10) * strength)
    shear = rng.uniform(-0.3, 0.3) * strength
    stretch = math.exp(rng.uniform(-0.2, 0.2) * strength)
    cos, sin = math.cos(angle), math.sin(angle)
    width, height = ink.size
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = (2 * u + 1) / width - 1, (2 * v + 1) / height - 1  # output pixels in [-1, 1]
    bends = [_smooth_field(rng.normal(0, 0.04 * strength, (4, 4)), (width, height)) for _ in range(2)]
    source_u = cos * stretch * u + (shear - sin) * v + bends[0]
    source_v = sin * u + cos / stretch * v + bends[1]
    pixels = np.asarray(ink, dtype=np.float32)
    x, y = ((source_u + 1) * width - 1) / 2, ((source_v + 1) * height - 1) / 2
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    out = np.zeros_like(pixels)
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xs, ys = x0 + dx, y0 + dy
        inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
        out[inside] += weight[inside] * pixels[ys[inside], xs[inside]]
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _smooth_field(control: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A small grid of random values, upsampled smoothly (bicubic) to `size` (width, height)."""
    field = Image.fromarray(control.astype(np.float32), mode="F").resize(size, Image.Resampling.BICUBIC)
    return np.asarray(field, dtype=np.float32)


def _on_paper(ink: Image.Image) -> Image.Image:
    """Black ink on white, with a margin around it."""
    page = Image.new("L", (ink.width + 40, ink.height + 40), 255)
    page.paste(0, (20, 20), ink)
    return page
