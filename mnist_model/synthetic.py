"""Synthetic training images for what MNIST lacks: printed digits, and things that are not digits.

MNIST holds handwritten digits only, so a model trained on it alone reads a typed "1" with a
flag and a foot as a 7, and answers every letter, star or scribble with some digit. This module
draws both missing kinds of example and sends each one through the app's own preprocessing
(`mnist_model.preprocess.to_mnist`), so the model trains on exactly what it is later shown:

- printed digits: the ten digits typed in print faces (serif, sans, mono, rounded; bold,
  italic, thin) and in faces that imitate handwriting (`mnist_model.fonts`), slightly rotated,
  slanted and warped, and a share of 7s with a bar through the stem;
- not a digit (label `NOT_A_DIGIT`): letters in both cases (except `LETTERS_LIKE_DIGITS`), typed
  and in handwriting faces, symbols, hand-drawn shapes (star, heart, smiley, spiral, arrow...),
  scribbles, short words, smudges, and the shadows across photos of empty paper
  (`mnist_model.media.empty_paper`) where the ink finder takes them for ink.

Which fonts type them is a role of `mnist_model.fonts`: "training" for the training set,
"validation" for the set that calibrates the refusal; the judged fonts are never drawn here.

    rng = np.random.default_rng(0)
    images, labels = make_synthetic(printed=100, not_digits=200, rng=rng)  # uint8 (300, 28, 28)
"""

from __future__ import annotations

import string
from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tqdm.auto import tqdm

from .fonts import font_files
from .media import empty_paper, warp
from .model import NOT_A_DIGIT
from .preprocess import to_mnist

# Letters honestly shaped like a digit (O/0, I/1, S/5, Z/2, B/8, G/6, b/6, g/9, q/9): a model
# may read them as digits, so they are not taught as "not a digit".
LETTERS_LIKE_DIGITS = "OoIilSsZzBGbgq"
LETTERS = "".join(c for c in string.ascii_letters if c not in LETTERS_LIKE_DIGITS)
# No brackets or bars: squeezed into the digit box they are a "1".
SYMBOLS = "#@&%?+=*$<>^~€£¥§¶©®π∑Ω√∞≠±÷×"
SHAPES = ("star", "heart", "smiley", "spiral", "triangle", "square", "arrow", "check", "zigzag", "wave",
          "lightning", "grid")  # fmt: skip
# Shares of the "not a digit" examples; the rest of the list's order is arbitrary.
NOT_DIGIT_KINDS = {"letter": 0.28, "symbol": 0.16, "shape": 0.14, "scribble": 0.17, "word": 0.07,
                   "smudge": 0.13, "paper": 0.05}  # fmt: skip
# Paper flaws taught as "not a digit": a shadow's soft-edged wedge. Folds and fibres are thin
# lines and a table's edge a solid bar, which after the MNIST recipe look like a "1": the ink
# finder's contrast rule, not the model, keeps the faint ones out.
PAPER_FLAWS_TAUGHT = ("shadow",)
HANDWRITING_SHARE = 0.4  # of the printed digits, letters and words typed in handwriting faces (symbols: print)


def make_synthetic(
    printed: int, not_digits: int, rng: np.random.Generator, role: str = "training", progress: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """`printed` typed digits (labels 0-9, cycling) and `not_digits` non-digits, shuffled, as
    MNIST-format uint8 (N, 28, 28) images and int64 labels, each made by the app's preprocessing;
    typed in the fonts of `role` ("training" or "validation", see `mnist_model.fonts`)."""
    fonts = {style: font_files(role, style) for style in ("print", "handwriting")}
    kinds = list(NOT_DIGIT_KINDS)
    shares = np.array(list(NOT_DIGIT_KINDS.values()))
    jobs = [(i % 10, None) for i in range(printed)]
    jobs += [(NOT_A_DIGIT, kind) for kind in rng.choice(kinds, size=not_digits, p=shares / shares.sum())]
    images = np.zeros((len(jobs), 28, 28), np.uint8)
    bar = tqdm(jobs, desc="drawing printed digits and non-digits", unit="image", leave=False, disable=not progress)
    for i, (label, kind) in enumerate(bar):
        style = "handwriting" if kind != "symbol" and rng.random() < HANDWRITING_SHARE else "print"
        images[i] = mnist_format(partial(_draw, label, kind, fonts[style], rng))
    order = rng.permutation(len(jobs))
    labels = torch.tensor([label for label, _ in jobs], dtype=torch.int64)
    return torch.from_numpy(images[order]), labels[torch.from_numpy(order)]


def draw_printed_digit(digit: int, fonts: list[Path], rng: np.random.Generator) -> Image.Image:
    """A digit typed in one of `fonts`: black on white, any size, slightly warped."""
    font = fonts[rng.integers(len(fonts))]
    ink = _typed(str(digit), font, rng)
    if digit == 7 and rng.random() < 0.35:
        ink = _bar_through_stem(ink)
    return _on_paper(warp(ink, rng, strength=0.6))


def draw_not_digit(kind: str, fonts: list[Path], rng: np.random.Generator) -> Image.Image:
    """One thing that is not a digit, of `kind` in `NOT_DIGIT_KINDS`: black on white."""
    if kind in ("letter", "symbol", "word"):
        if kind == "word":
            text = "".join(rng.choice(list(string.ascii_letters), size=rng.integers(2, 6)))
        else:
            choices = LETTERS if kind == "letter" else SYMBOLS
            text = choices[rng.integers(len(choices))]
        ink = _typed(text, _font_with(text, fonts, rng), rng)
    elif kind == "shape":
        ink = _shape(SHAPES[rng.integers(len(SHAPES))], rng)
    elif kind == "scribble":
        ink = _scribble(rng)
    elif kind == "smudge":
        ink = _smudge(rng)
    elif kind == "paper":
        return empty_paper(rng, PAPER_FLAWS_TAUGHT[rng.integers(len(PAPER_FLAWS_TAUGHT))])
    else:
        raise ValueError(f"unknown kind {kind!r}; choose one of: {', '.join(NOT_DIGIT_KINDS)}")
    return _on_paper(warp(ink, rng, strength=1.0))


def _draw(label: int, kind: str | None, fonts: list[Path], rng: np.random.Generator) -> Image.Image:
    return draw_printed_digit(label, fonts, rng) if kind is None else draw_not_digit(kind, fonts, rng)


def mnist_format(draw: Callable[[], Image.Image], tries: int = 50) -> np.ndarray:
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


def _font_with(text: str, fonts: list[Path], rng: np.random.Generator) -> Path:
    """A random font of `fonts` that has every character of `text`: a missing glyph is typed as
    an empty box, which looks like a 0."""
    for index in rng.permutation(len(fonts)):
        if all(_has_glyph(fonts[index], char) for char in text):
            return fonts[index]
    raise ValueError(f"none of the {len(fonts)} fonts has every character of {text!r}")


@lru_cache(maxsize=8192)
def _has_glyph(path: Path, char: str) -> bool:
    """Whether `path` draws `char` as something other than nothing or its missing-glyph box."""
    font = _font(path, 40)
    mask = font.getmask(char)
    return mask.getbbox() is not None and bytes(mask) != bytes(font.getmask("\ue000"))


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


def _on_paper(ink: Image.Image) -> Image.Image:
    """Black ink on white, with a margin around it."""
    page = Image.new("L", (ink.width + 40, ink.height + 40), 255)
    page.paste(0, (20, 20), ink)
    return page
