"""What people send a digit app beyond MNIST's handwriting: printed digits, and non-digits.

`testkit.user_images` turns MNIST test digits into images as users send them; this module does
the same for what MNIST never showed: digits typed in fonts, and letters, symbols, shapes,
scribbles, words, smudges and photos of empty paper. Each item is drawn by
`mnist_model.synthetic`'s drawing functions from random streams that training never uses, made
and sent either as drawn (black type or ink on a white page: every other item) or, made into a
28x28 MNIST-style image by the app's preprocessing, as one of the eleven user-image kinds in
turn (a Sketchpad canvas, a transparent layer, pens, white on black, a photo of paper...).

Printed digits come in two groups: `printed` uses the fonts training types with, `printed_serif`
uses DejaVu Serif, which training never sees, to judge how the model generalises to a new font.

    rng = category_rng(0, "letter")
    image, label = make_item("letter", 0, rng)   # label: a digit, or NOT_A_DIGIT
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from mnist_model.model import NOT_A_DIGIT
from mnist_model.preprocess import to_mnist
from mnist_model.synthetic import NOT_DIGIT_KINDS, draw_not_digit, draw_printed_digit, font_files
from testkit.user_images import KINDS, make_user_image

PRINTED = ("printed", "printed_serif")
NOT_DIGITS = (*NOT_DIGIT_KINDS, "empty_paper")
CATEGORIES = (*PRINTED, *NOT_DIGITS)
# A smudge is no pen stroke: the kinds that redraw the ink's centre line with a pen would turn
# it into one.
_UNSTROKED_KINDS = tuple(kind for kind in KINDS if kind not in ("default_brush", "thin_pen", "thick_marker"))


@dataclass
class CategoryResult:
    """One category's items through preprocessing and the model."""

    category: str
    n: int = 0
    correct: int = 0  # printed: the right digit; not a digit: refused or found blank
    refused: int = 0  # answered "not a digit"
    blank: int = 0  # the preprocessing found no ink
    answers: Counter = field(default_factory=Counter)  # what the model said, when it was wrong

    @property
    def accuracy(self) -> float:
        return self.correct / max(1, self.n)


def category_rng(seed: int, category: str) -> np.random.Generator:
    """One stream per (seed, category), apart from the streams `mnist_model.training` draws from."""
    return np.random.default_rng([seed, 1000 + CATEGORIES.index(category)])


def make_item(category: str, index: int, rng: np.random.Generator) -> tuple[Image.Image | dict[str, Any], int]:
    """The `index`-th item of `category` as a user would send it, and its label."""
    if category == "empty_paper":
        return empty_paper(rng), NOT_A_DIGIT
    if category in PRINTED:
        label = index % 10
        drawing = draw_printed_digit(label, _fonts(held_out=category == "printed_serif"), rng)
    else:
        label = NOT_A_DIGIT
        drawing = draw_not_digit(category, _fonts(held_out=False) + _fonts(held_out=True), rng)
    if index % 2 == 0:
        return drawing, label
    kinds = _UNSTROKED_KINDS if category == "smudge" else KINDS
    sent_as = kinds[index // 2 % len(kinds)]
    item = to_mnist(drawing)
    if item.tensor is None:  # nothing to send as a user image: send the drawing itself
        return drawing, label
    digit = (item.tensor[0].numpy() * 255).round().astype(np.uint8)
    return make_user_image(digit, sent_as, rng), label


def empty_paper(rng: np.random.Generator) -> Image.Image:
    """A phone photo of a blank sheet: uneven light, grain, blur, JPEG, phone-sized."""
    width, height = int(rng.integers(480, 1200)), int(rng.integers(480, 1200))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = rng.uniform(140, 235) + rng.uniform(-45, 45) * xs / width + rng.uniform(-45, 45) * ys / height
    paper = light + rng.normal(0, rng.uniform(2, 14), (height, width))
    tint = rng.uniform(0.9, 1.0, 3)
    pixels = np.clip(paper[..., None] * tint, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2))))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(50, 92)))
    return Image.open(buffer)


def run_category(
    category: str, count: int, model: torch.nn.Module, preprocess: Any, rng: np.random.Generator
) -> CategoryResult:
    """Make, preprocess and classify `count` items of `category`, one at a time as the app does."""
    result = CategoryResult(category)
    for index in range(count):
        image, label = make_item(category, index, rng)
        prepared = preprocess(image)
        result.n += 1
        if prepared.tensor is None:
            result.blank += 1
            result.correct += label == NOT_A_DIGIT
            if label != NOT_A_DIGIT:
                result.answers["blank"] += 1
            continue
        with torch.inference_mode():
            answer = int(model(prepared.tensor[None]).argmax(dim=1)[0])
        result.refused += answer == NOT_A_DIGIT
        if answer == label:
            result.correct += 1
        else:
            result.answers["not a digit" if answer == NOT_A_DIGIT else str(answer)] += 1
    return result


@cache
def _fonts(held_out: bool) -> list[Path]:
    return font_files(held_out)
