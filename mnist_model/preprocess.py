"""The one road from "an image a user sent" to the model's (1, 28, 28) input.

The model only ever saw MNIST, so every input is rebuilt the way MNIST itself was made: the ink
is found, fitted into a 20x20 box keeping its aspect ratio, anti-aliased, and placed in a 28x28
field so that its centre of mass lies at the centre; white ink on black, floats in [0, 1]. The
app, the CLI, the benchmarks and the tests all go through `preprocess`, in three steps:

1. `mnist_model.decode`: whatever was sent (a path, file bytes, a PIL image, a numpy array, a
   Sketchpad value) becomes an "L" or "RGBA" image, or one `ImageError` sentence for the user;
2. `mnist_model.ink`: the digit's ink is found whatever the paper, pen, polarity, transparency,
   lighting or stray marks, as a soft mask in [0, 1] and its box;
3. the MNIST recipe, `mnist_digit` below: the ink fitted into the 20x20 box with strokes of
   MNIST's width, and centred by mass in the 28x28 field.

An image that already looks like MNIST (28x28, centred, long side 20) passes through unchanged.

People also write whole numbers (a year, a price): `mnist_model.number` finds each digit of a
line of writing and gives every one the same recipe (`drawn`), as a `PreprocessedDigit`. A
picture of one digit gives exactly the tensor `preprocess` gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .decode import ImageSource, as_loaded, load_image
from .ink import Box, Ink, find_ink
from .paper import dilate, quantile

CANVAS = 28  # MNIST's field ...
BOX = 20  # ... and the box its digits were fitted into
# When shrinking, strokes are brought into this range of widths in the 20x20 box, measured as
# 2 * ink / edge length: MNIST's median is 1.8, its 99th percentile 3.4.
THIN_STROKE = 2.0
THICK_STROKE = 3.5


@dataclass(frozen=True)
class Preprocessed:
    """What the model sees: the tensor (None when no digit was found) and a picture of it."""

    tensor: torch.Tensor | None  # (1, 28, 28) float32 in [0, 1], white on black
    preview: Image.Image  # 28x28 mode "L" of what the model sees (all black when blank)

    @property
    def is_blank(self) -> bool:
        return self.tensor is None


def preprocess(source: ImageSource | None) -> Preprocessed:
    """Load any supported input (see `mnist_model.decode.load_image`) and turn it into the
    model's input."""
    image = load_image(source)
    return _blank() if image is None else to_mnist(image)


def to_mnist(image: Image.Image) -> Preprocessed:
    """Find the digit in `image` (any mode, any size) and redraw it the way MNIST was drawn."""
    ink = find_ink(as_loaded(image))
    if ink is None:
        return _blank()
    return Preprocessed(*drawn(ink))


def drawn(ink: Ink) -> tuple[torch.Tensor, Image.Image]:
    """The ink through the MNIST recipe: the (1, 28, 28) tensor and its 28x28 picture."""
    canvas = mnist_digit(ink)
    return torch.from_numpy(canvas).unsqueeze(0), Image.fromarray((canvas * 255).round().astype(np.uint8))


def _blank() -> Preprocessed:
    return Preprocessed(None, Image.new("L", (CANVAS, CANVAS), 0))


@dataclass(frozen=True)
class PreprocessedDigit:
    """One digit of a number as the model sees it, and where it was written."""

    tensor: torch.Tensor  # (1, 28, 28) float32 in [0, 1], white on black
    preview: Image.Image  # 28x28 mode "L" of what the model sees
    box: Box  # the digit's ink in the pixels of the decoded input (`load_image`'s, EXIF-turned)
    cut: bool  # cut from ink it shared with a neighbour: touching digits, the likeliest misread


# --------------------------------------------------------------------------------------------
# The MNIST recipe


def mnist_digit(ink: Ink) -> np.ndarray:
    """The ink as MNIST drew its digits: fitted into the 20x20 box keeping its aspect ratio,
    strokes brought to MNIST's width, at full strength, centred by mass in the 28x28 field."""
    soft = ink.soft[ink.box.slices]
    scale = BOX / ink.box.long_side
    if scale < 1:  # shrinking: thin lines would fade to nothing, marker strokes blot
        stroke = stroke_width(soft)
        goal = min(max(stroke * scale, THIN_STROKE), THICK_STROKE)
        if goal != stroke * scale:
            soft = _restroke(soft, (goal / scale - stroke) / 2)
            scale = BOX / max(soft.shape)
    height, width = soft.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(np.ascontiguousarray(soft)).resize(size, Image.Resampling.HAMMING)
    patch = np.clip(np.asarray(resized, dtype=np.float32), 0, 1)
    inked = patch[patch > 0.05]
    if inked.size:  # full strength, as in MNIST's strokes
        patch = np.clip(patch / max(quantile(inked, 0.9), 0.05), 0, 1)
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    total = float(patch.sum())
    if total <= 0:
        return canvas
    rows, cols = np.arange(size[1], dtype=np.float32), np.arange(size[0], dtype=np.float32)
    cy, cx = float(patch.sum(axis=1) @ rows) / total, float(patch.sum(axis=0) @ cols) / total
    top = min(max(round(CANVAS / 2 - cy), 0), CANVAS - size[1])
    left = min(max(round(CANVAS / 2 - cx), 0), CANVAS - size[0])
    canvas[Box(left, top, left + size[0], top + size[1]).slices] = patch
    return canvas


def stroke_width(soft: np.ndarray) -> float:
    """2 * ink / edge length of the strokes' > 0.5 core, the measure MNIST's widths are given in."""
    core = np.pad(soft > 0.5, 1)
    edges = np.count_nonzero(np.diff(core, axis=0)) + np.count_nonzero(np.diff(core, axis=1))
    return 2 * float(soft.sum()) / max(edges, 1)


def _restroke(soft: np.ndarray, grow: float) -> np.ndarray:
    """Strokes widened (grow > 0) or thinned (grow < 0) by |grow| pixels on each side, cropped.

    Whole pixels come from grey dilation (of the ink, or of the paper to thin); the fraction
    blends in one more step, so the result changes smoothly with `grow`.
    """
    steps = math.floor(abs(grow))
    padded = np.pad(soft, steps + 1)
    if grow < 0:
        padded = 1 - padded
    inner = dilate(padded, steps)
    out = inner + (abs(grow) - steps) * (dilate(inner, 1) - inner)
    if grow < 0:
        out = 1 - out
    box = Box.around(out)
    return soft if box is None else out[box.slices]
