"""The world a digit app meets beyond MNIST's handwriting, kind by kind, for judging the model.

Each category says what it is and whether training saw its kind (`Category.seen`):

- "trained": a kind training draws from, here from random streams training never uses;
- "calibration": never trained on; the refusal's calibration looked at it (validation fonts);
- "held out": neither trained on nor looked at: judged fonts (`mnist_model.fonts.JUDGED`),
  a medium training never renders (the fax), phone photos, other writers' low-resolution scans
  (the UCI optical digits that scikit-learn ships), paper folds, fibres and table edges.

Real digits: MNIST test digits as users send them (`testkit.user_images`) and through other
media (`mnist_model.media`); digits typed in print and handwriting faces; other writers' scans.
Not digits: letters (typed in the training and the judged fonts), symbols, shapes, scribbles,
words, smudges; and photos of empty paper, with and without flaws, which count as right when
answered blank or "not a digit". Drawn and typed items are sent as drawn every other time, and
otherwise, made into a 28x28 image by the app's preprocessing, as one of the user-image kinds.

    mnist = load_mnist(data_dir, train=False)
    image, label = make_item("scan_other_writers", 0, category_rng(0, "scan_other_writers"), mnist)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter

from mnist_model.fonts import font_files
from mnist_model.media import HELD_OUT_MEDIA, MEDIA, PAPER_FLAWS, empty_paper, render
from mnist_model.model import NOT_A_DIGIT
from mnist_model.preprocess import to_mnist
from mnist_model.synthetic import NOT_DIGIT_KINDS, PAPER_FLAWS_TAUGHT, draw_not_digit, draw_printed_digit
from testkit.user_images import KINDS, make_user_image

Mnist = tuple[torch.Tensor, torch.Tensor]  # MNIST's test images (uint8 [N, 28, 28]) and labels


@dataclass(frozen=True)
class Category:
    name: str
    group: str  # "digit", "not a digit" or "empty paper"
    seen: str  # "trained", "calibration" or "held out"
    about: str


def _categories() -> dict[str, Category]:
    rows = [
        Category("mnist_as_sent", "digit", "trained", "MNIST test digits as the user-image kinds, in turn"),
        Category("camera_photo", "digit", "held out", "MNIST test digits in phone photos of paper"),
        *(Category(f"medium_{m}", "digit", "trained", f"MNIST test digits, {m}") for m in MEDIA),
        *(Category(f"medium_{m}", "digit", "held out", f"MNIST test digits, {m}") for m in HELD_OUT_MEDIA),
        Category("scan_other_writers", "digit", "held out", "UCI optical digits: 8x8 scans, enlarged, blurred"),
    ]
    for style in ("print", "handwriting"):
        for role, seen in (("training", "trained"), ("validation", "calibration"), ("judged", "held out")):
            rows.append(Category(f"{style}_{role}_fonts", "digit", seen, f"digits typed in {role} {style} faces"))
    rows.append(Category("letter_judged_fonts", "not a digit", "held out", "letters typed in the judged fonts"))
    for kind in NOT_DIGIT_KINDS:
        if kind != "paper":
            rows.append(Category(kind, "not a digit", "trained", f"{kind}s, drawn or typed in training fonts"))
    for flaw in PAPER_FLAWS:
        seen = "trained" if flaw in PAPER_FLAWS_TAUGHT or flaw == "plain" else "held out"
        rows.append(Category(f"paper_{flaw}", "empty paper", seen, f"a phone photo of empty paper: {flaw}"))
    return {row.name: row for row in rows}


CATEGORIES = _categories()
DIGIT_CATEGORIES = tuple(name for name, c in CATEGORIES.items() if c.group == "digit")
NOT_DIGIT_CATEGORIES = tuple(name for name, c in CATEGORIES.items() if c.group == "not a digit")
PAPER_CATEGORIES = tuple(name for name, c in CATEGORIES.items() if c.group == "empty paper")
_PHOTO_KINDS = ("photo", "photo_exif_rotated")
# A smudge is no pen stroke: the kinds that redraw the ink's centre line with a pen would turn
# it into one.
_UNSTROKED_KINDS = tuple(kind for kind in KINDS if kind not in ("default_brush", "thin_pen", "thick_marker"))


@dataclass
class CategoryResult:
    """One category's items through preprocessing and the model."""

    category: str
    n: int = 0
    correct: int = 0  # a digit: the right digit; not a digit or paper: refused or found blank
    refused: int = 0  # answered "not a digit"
    blank: int = 0  # the preprocessing found no ink
    answers: Counter = field(default_factory=Counter)  # what the model said, when it was wrong

    @property
    def accuracy(self) -> float:
        return self.correct / max(1, self.n)

    @property
    def refused_rate(self) -> float:
        return self.refused / max(1, self.n)


def category_rng(seed: int, category: str) -> np.random.Generator:
    """One stream per (seed, category), apart from the streams `mnist_model.training` draws from."""
    return np.random.default_rng([seed, 1000 + list(CATEGORIES).index(category)])


def make_item(
    category: str, index: int, rng: np.random.Generator, mnist: Mnist | None = None
) -> tuple[Image.Image | dict[str, Any], int]:
    """The `index`-th item of `category` as a user would send it, and its label; the categories
    of MNIST test digits need `mnist`."""
    if category.startswith("paper_"):
        return empty_paper(rng, category.removeprefix("paper_")), NOT_A_DIGIT
    if category == "scan_other_writers":
        return _other_writers_scan(index, rng)
    if category in ("mnist_as_sent", "camera_photo") or category.startswith("medium_"):
        if mnist is None:
            raise ValueError(f"{category} is made of MNIST test digits: pass them as mnist=")
        pick = int(rng.integers(len(mnist[0])))
        digit, label = mnist[0][pick].numpy(), int(mnist[1][pick])
        if category.startswith("medium_"):
            return render(digit, category.removeprefix("medium_"), rng), label
        kinds = _PHOTO_KINDS if category == "camera_photo" else KINDS
        return make_user_image(digit, kinds[index % len(kinds)], rng), label
    if category.endswith("_fonts") and category != "letter_judged_fonts":
        style, role, _ = category.split("_")
        label = index % 10
        drawing = draw_printed_digit(label, _fonts(role, style), rng)
    else:
        label = NOT_A_DIGIT
        fonts = _fonts("judged", None) if category == "letter_judged_fonts" else _fonts("training", None)
        drawing = draw_not_digit("letter" if category == "letter_judged_fonts" else category, fonts, rng)
    if index % 2 == 0:
        return drawing, label
    kinds = _UNSTROKED_KINDS if category == "smudge" else KINDS
    item = to_mnist(drawing)
    if item.tensor is None:  # nothing to send as a user image: send the drawing itself
        return drawing, label
    digit = (item.tensor[0].numpy() * 255).round().astype(np.uint8)
    return make_user_image(digit, kinds[index // 2 % len(kinds)], rng), label


def run_category(
    category: str, count: int, model: torch.nn.Module, preprocess: Any, rng: np.random.Generator,
    mnist: Mnist | None = None,
) -> CategoryResult:
    """Make, preprocess and classify `count` items of `category`, one at a time as the app does."""
    result = CategoryResult(category)
    for index in range(count):
        image, label = make_item(category, index, rng, mnist)
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


def _other_writers_scan(index: int, rng: np.random.Generator) -> tuple[Image.Image, int]:
    """One of the UCI optical digits (43 writers, scanned, 4x4 blocks counted into 8x8 cells of
    0-16) as a dark-on-light picture, enlarged and blurred as a scan's thumbnail is."""
    images, labels = _optical_digits()
    pick = index % len(images)
    cells = Image.fromarray((255 - images[pick] * 255 / 16).astype(np.uint8))
    size = int(rng.integers(64, 160))
    large = cells.resize((size, size), Image.Resampling.BICUBIC)
    return large.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, size / 24)))), int(labels[pick])


@cache
def _optical_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # the data ships inside scikit-learn

    digits = load_digits()
    return digits.images, digits.target


@cache
def _fonts(role: str, style: str | None) -> list[Path]:
    return font_files(role, style)
