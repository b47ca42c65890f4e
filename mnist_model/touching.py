"""Training examples for digits whose ink touches: the pieces the reader cuts, each labelled.

A hand writing fast joins its digits: a loop runs into the next stem, a tail under the next
digit, a crossbar into it. The reader cuts such a group of ink at candidate cuts
(`mnist_model.cuts`) and lets the model score every piece between two cuts
(`mnist_model.number`), so the model has to know the pieces: a whole digit, even with a sliver
of its neighbour's ink, is that digit; two digits joined, or a part of one, is not a digit.
MNIST shows neither, so this module writes them. It sets two or three MNIST digits side by side,
each pair touching or overlapping a little (and single digits, whose parts teach that half a
digit is no digit), runs the app's own line finder and cutter over the drawing, and labels each
piece by whose ink it holds:

- nearly all of one digit's ink and little else: that digit;
- ink of two digits, or too little of any one: "not a digit" (`NOT_A_DIGIT`);
- in between: left out, as a person could not say either.

Every example goes through the app's preprocessing (`mnist_model.preprocess.drawn`), so the model
learns from exactly what the reader later shows it.

    images, labels = load_mnist("../shared/data", train=True)
    pieces, piece_labels = make_touching(images, labels, 1000, np.random.default_rng(0))  # uint8 (1000, 28, 28)
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageFilter

from .cuts import lattice
from .ink import Digit
from .line import find_line
from .model import NOT_A_DIGIT
from .preprocess import drawn

WRITTEN = {1: 0.2, 2: 0.55, 3: 0.25}  # how many digits a drawing holds: shares of the drawings
HEIGHT = (32, 72)  # a drawing's digit height in pixels
SIZES = (0.85, 1.15)  # each digit's height, relative to the drawing's
OVERLAP = (-0.02, 0.15)  # how far neighbours' ink overlaps, of the height (below 0: a hair apart)
DROP = 0.08  # each digit's baseline wanders by up to this much of the height
THICKER = 0.3  # the share of drawings written with a thicker pen
DIGIT_SHARE, DIGIT_COVER = 0.9, 0.85  # a piece is a digit: this much of its ink is that digit's, and this much of that digit
NOT_SHARE, NOT_COVER = 0.75, 0.5  # a piece is no digit: less of its ink is any one digit's, or less of that digit
PER_DRAWING = 4  # pieces taken from one drawing, at most


def make_touching(
    images: torch.Tensor, labels: torch.Tensor, count: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` pieces of drawings of touching MNIST `images` (uint8 (N, 28, 28), white on black),
    as MNIST-format uint8 (count, 28, 28) images and int64 labels (a digit, or `NOT_A_DIGIT`)."""
    out = np.zeros((count, 28, 28), np.uint8)
    out_labels = np.zeros(count, np.int64)
    done = 0
    sizes, shares = list(WRITTEN), np.array(list(WRITTEN.values()))
    while done < count:
        chosen = rng.choice(len(images), size=rng.choice(sizes, p=shares / shares.sum()))
        image, owners = write_touching([images[i].numpy() for i in chosen], rng)
        for piece, label in labelled_pieces(image, owners, [int(labels[i]) for i in chosen], rng)[: count - done]:
            out[done] = (drawn(piece.ink)[0][0].numpy() * 255).round().astype(np.uint8)
            out_labels[done] = label
            done += 1
    return torch.from_numpy(out), torch.from_numpy(out_labels)


def write_touching(digits: list[np.ndarray], rng: np.random.Generator) -> tuple[Image.Image, np.ndarray]:
    """MNIST digits written left to right, each touching or overlapping the one before, as black
    ink on a white "L" image, with each digit's own ink (k, rows, columns) in [0, 1]."""
    height = float(rng.uniform(*HEIGHT))
    thicker = int(rng.choice([3, 5])) if rng.random() < THICKER else 0
    shapes = [_enlarged(digit, height * float(rng.uniform(*SIZES)), thicker) for digit in digits]
    margin = int(height // 2)
    rows = int(max(shape.shape[0] for shape in shapes) + 2 * DROP * height + 2 * margin)
    columns = int(sum(shape.shape[1] for shape in shapes) + 2 * margin)
    owners = np.zeros((len(shapes), rows, columns), np.float32)
    baseline = rows - margin - DROP * height
    left = margin
    for index, shape in enumerate(shapes):
        top = int(round(baseline + rng.uniform(-DROP, DROP) * height)) - shape.shape[0]
        if index:
            left = _touching_left(owners[index - 1], shape, top) - int(round(rng.uniform(*OVERLAP) * height))
        owners[index, top : top + shape.shape[0], left : left + shape.shape[1]] = shape
        left += shape.shape[1]
    ink = owners.max(axis=0)
    return Image.fromarray((255 - ink * 255).round().astype(np.uint8), "L"), owners


def labelled_pieces(
    image: Image.Image, owners: np.ndarray, labels: list[int], rng: np.random.Generator
) -> list[tuple[Digit, int]]:
    """Up to `PER_DRAWING` pieces that the reader would score in `image`, each with its label
    (see the module's docstring), as many of them digits as not where the drawing allows."""
    line = find_line(image)
    shares = [_ownership(group, owners) for group in line.groups]
    whole = sum(_total(group, share) for group, share in zip(line.groups, shares))  # a digit may span groups
    digits, not_digits = [], []
    for group, share in zip(line.groups, shares):
        found = lattice(group, line.height / group.factor)
        for piece in [group, *found.pieces.values()]:
            mass = _total(piece, share)
            best = int(mass.argmax())
            purity = mass[best] / max(mass.sum(), 1e-6)
            cover = mass[best] / max(whole[best], 1e-6)
            if purity >= DIGIT_SHARE and cover >= DIGIT_COVER:
                digits.append((piece, labels[best]))
            elif purity < NOT_SHARE or cover < NOT_COVER:
                not_digits.append((piece, NOT_A_DIGIT))
    half = PER_DRAWING // 2
    taken = [digits[i] for i in rng.permutation(len(digits))[: max(half, PER_DRAWING - len(not_digits))]]
    taken += [not_digits[i] for i in rng.permutation(len(not_digits))[: PER_DRAWING - len(taken)]]
    return [taken[i] for i in rng.permutation(len(taken))]


def _enlarged(digit: np.ndarray, height: float, thicker: int) -> np.ndarray:
    """An MNIST digit's ink cut to its box and scaled to `height` pixels, as alpha in [0, 1]."""
    rows, columns = np.flatnonzero(digit.max(axis=1) > 0), np.flatnonzero(digit.max(axis=0) > 0)
    crop = Image.fromarray(digit[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1])
    scale = height / crop.height
    crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(height))), Image.Resampling.BILINEAR)
    if thicker:
        crop = crop.filter(ImageFilter.MaxFilter(thicker))
    return np.asarray(crop, np.float32) / 255


def _touching_left(before: np.ndarray, shape: np.ndarray, top: int) -> int:
    """The left edge at which `shape`, its top row at `top`, just touches the ink of `before`."""
    inked = before[top : top + shape.shape[0]] > 0.5
    own = shape[: inked.shape[0]] > 0.5
    rows = inked.any(axis=1) & own.any(axis=1)
    if not rows.any():  # no row in common: side by side
        return int(np.flatnonzero(before.max(axis=0) > 0.5).max()) + 1
    reach = before.shape[1] - 1 - np.argmax(inked[rows][:, ::-1], axis=1)
    start = np.argmax(own[rows], axis=1)
    return int((reach - start).max()) + 1


def _ownership(group: Digit, owners: np.ndarray) -> np.ndarray:
    """Each digit's share of the ink at each pixel of `group`'s plane: (k, rows, columns)."""
    rows, columns = group.ink.soft.shape
    left, top = group.origin
    ys = np.clip((top + (np.arange(rows) + 0.5) * group.factor).astype(int), 0, owners.shape[1] - 1)
    xs = np.clip((left + (np.arange(columns) + 0.5) * group.factor).astype(int), 0, owners.shape[2] - 1)
    sampled = owners[:, ys][:, :, xs]
    return sampled / np.maximum(sampled.sum(axis=0), 1e-6)


def _total(piece: Digit, share: np.ndarray) -> np.ndarray:
    """The ink of `piece` that belongs to each digit, in source pixels: (k,)."""
    return (share * piece.ink.soft).reshape(len(share), -1).sum(axis=1) * piece.factor**2
