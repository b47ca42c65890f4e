"""Finding the digit's ink in a picture: which ink is the digit, and where it lies in the source.

A Sketchpad drawing, an uploaded file and a phone photo of paper each show the digit differently,
and the MNIST recipe (`mnist_model.preprocess`) needs only the ink, as a soft mask in [0, 1].
The steps, in the order `find_ink` takes them:

- the working plane, the paper and the ink (`mnist_model.paper`): the image box-averaged to a
  bounded size, the paper fitted and subtracted whatever its colour or lighting, and the ink
  told apart from noise;
- the pieces: connected pieces of ink are found on a coarse grid (`mnist_model.pieces`) and
  those that make up the digit are kept (`digit_pieces`), so small marks far from it cannot
  stretch its box;
- the re-read: a digit that is small in a large picture is read again from a crop at a higher
  resolution, keeping every piece the first look found.

A line of writing holds several digits: `mnist_model.line` takes the same first steps, splits
the ink into digits and gives each as the `Digit` defined here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image

from .paper import Separated, dilate, separate, working_plane
from .pieces import Pieces, gaps, union

MIN_DIGIT_FRACTION = 0.02  # ink spanning less of the image's long side than this is a speck
MIN_DIGIT_PIXELS = 4  # ... and so is ink spanning fewer source pixels than this
MIN_INK_FRACTION = 5e-5  # ink covering less of the image than this is a speck
REFINE_BELOW = 48  # a digit shorter than this (working pixels) in a shrunk image is re-read


class Box(NamedTuple):
    """A rectangle of pixels, end-exclusive, in PIL's order: `image.crop(box)` takes it as is."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def long_side(self) -> int:
        return max(self.right - self.left, self.bottom - self.top)

    @property
    def slices(self) -> tuple[slice, slice]:
        """Rows and columns, to index a numpy array: `array[box.slices]`."""
        return slice(self.top, self.bottom), slice(self.left, self.right)

    @classmethod
    def around(cls, array: np.ndarray) -> Box | None:
        """The smallest box holding every non-zero element of a 2-D array; None if none is."""
        rows, cols = np.flatnonzero(array.any(axis=1)), np.flatnonzero(array.any(axis=0))
        if not rows.size:
            return None
        return cls(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


@dataclass(frozen=True)
class Ink:
    """The digit's ink on the working plane of the image it was found in."""

    soft: np.ndarray  # (H, W) float32 in [0, 1]: the kept ink, 0 elsewhere
    box: Box  # of `soft > 0`


@dataclass(frozen=True)
class Digit:
    """One digit of a number: its ink, and where that ink lies in the image's own pixels."""

    ink: Ink  # on the working plane of the image, or of the crop of it that re-read the digit
    origin: tuple[int, int]  # the source pixel where that plane starts ...
    factor: float  # ... and the source pixels a side of each of its pixels
    size: tuple[int, int]  # the source image's width and height
    cut: bool = False  # cut from ink it shared with a neighbour: touching digits

    @property
    def source(self) -> Box:
        """The ink's box in the pixels of the image it was found in."""
        return to_source(self.ink.box, self.origin, self.factor, self.size)

    def part(self, soft: np.ndarray) -> Digit:
        """Some of this digit's ink (on the same plane), as a digit cut from its neighbours."""
        return Digit(Ink(soft, Box.around(soft)), self.origin, self.factor, self.size, cut=True)


def find_ink(image: Image.Image) -> Ink | None:
    """The digit's ink in an "L" or "RGBA" image; None when there is none (blank, or a speck)."""
    plane, matte, scale = working_plane(image)
    found = one_digit(image, plane, matte, scale, separate(plane))
    return None if found is None else found.ink


def one_digit(
    image: Image.Image, plane: np.ndarray, matte: np.ndarray | None, scale: float, separated: Separated | None
) -> Digit | None:
    """`find_ink`'s digit, from the image's working plane and the ink separated on it."""
    if separated is None:
        return None
    pieces = separated.pieces()
    ink = _keep(separated, pieces, digit_pieces(pieces))
    if ink is None or is_speck(ink, plane.shape[:2], scale):
        return None
    origin = (0, 0)
    if scale > 1 and ink.box.long_side < REFINE_BELOW:
        ink, origin, scale = _refine(image, ink, scale, matte)
    return Digit(ink, origin, scale, image.size)


def _refine(image: Image.Image, ink: Ink, scale: float, matte: np.ndarray | None) -> tuple[Ink, tuple[int, int], float]:
    """The digit re-read from a crop of the source at a higher resolution than the first pass.

    The first pass saw the whole picture and decided which pieces make up the digit; this pass
    only sharpens them. It keeps every piece within the first pass's box (at a finer resolution
    the gap to a detached stroke may outgrow the reach that joined it), and its result is used
    only if it still covers that box, so ink the first pass kept is never lost.

    Returns the ink and where its plane lies in the source: the origin of the crop (0, 0 for
    the image itself) and the source pixels per plane pixel.
    """
    crop = source_box(ink.box, scale, image.size)
    plane, _, factor = working_plane(image.crop(crop), matte)
    left, top, right, bottom = _in_crop(ink.box, crop, scale, factor)
    refined = _read(plane, Box(math.floor(left), math.floor(top), math.ceil(right), math.ceil(bottom)))
    if refined is None or not covers(refined.box, ink.box, crop, scale, factor):
        return ink, (0, 0), scale
    return refined, (crop.left, crop.top), factor


def _in_crop(box: Box, crop: Box, scale: float, factor: float) -> tuple[float, float, float, float]:
    """A first pass's box (`scale` source pixels a pixel) in the pixels of a crop's working plane
    (`factor` source pixels a pixel)."""
    return (
        (box.left * scale - crop.left) / factor,
        (box.top * scale - crop.top) / factor,
        (box.right * scale - crop.left) / factor,
        (box.bottom * scale - crop.top) / factor,
    )


def covers(box: Box, first: Box, crop: Box, scale: float, factor: float) -> bool:
    """Whether a sharper pass's box on a crop's plane covers the first pass's box."""
    left, top, right, bottom = _in_crop(first, crop, scale, factor)
    # the first pass's box carries up to 2 of its pixels of rim (`dilate(kept, 2)` in `_keep`)
    # that a sharper pass need not repeat, and 1 more for rounding
    slack = 3 * scale / factor
    return (box.left <= left + slack and box.top <= top + slack
            and box.right >= right - slack and box.bottom >= bottom - slack)  # fmt: skip


def source_box(box: Box, scale: float, size: tuple[int, int]) -> Box:
    """The source-image box around a working-image box, with half its long side as margin."""
    margin = box.long_side / 2 + 2
    return Box(
        max(0, math.floor((box.left - margin) * scale)),
        max(0, math.floor((box.top - margin) * scale)),
        min(size[0], math.ceil((box.right + margin) * scale)),
        min(size[1], math.ceil((box.bottom + margin) * scale)),
    )


def to_source(box: Box, origin: tuple[int, int], factor: float, size: tuple[int, int]) -> Box:
    """A working plane's box in the pixels of the source image of `size`: the plane starts at the
    source pixel `origin` and each of its pixels averages `factor` x `factor` source pixels."""
    left, top = origin
    return Box(
        max(0, math.floor(left + box.left * factor)),
        max(0, math.floor(top + box.top * factor)),
        min(size[0], math.ceil(left + box.right * factor)),
        min(size[1], math.ceil(top + box.bottom * factor)),
    )


def is_speck(ink: Ink, shape: tuple[int, int], scale: float) -> bool:
    """Ink too small to be a digit: a dot, a crumb, a sensor speck."""
    long_side = ink.box.long_side
    return (
        long_side < MIN_DIGIT_FRACTION * max(shape)
        or long_side * scale < MIN_DIGIT_PIXELS
        or float(ink.soft.sum()) < MIN_INK_FRACTION * shape[0] * shape[1]
    )




def _read(plane: np.ndarray, within: Box | None = None) -> Ink | None:
    """Separate the ink from the paper on a working plane; None when there is no ink to speak of.

    `within` is where the digit is already known to be: every piece of ink reaching into it is
    part of the digit (see `digit_pieces`).
    """
    separated = separate(plane)
    if separated is None:
        return None
    pieces = separated.pieces()
    return _keep(separated, pieces, digit_pieces(pieces, within))



def _keep(separated: Separated, pieces: Pieces, chosen: np.ndarray) -> Ink | None:
    """The ink of the `chosen` pieces (one bool per piece), None if none holds any."""
    weak = separated.weak
    kept = weak & pieces.mask(chosen, weak.shape)
    if not kept.any():
        return None
    soft = separated.soft * dilate(kept, 2)  # keep the anti-aliased rim of the kept strokes, nothing else
    return Ink(soft.astype(np.float32), Box.around(soft))



def digit_pieces(pieces: Pieces, within: Box | None = None) -> np.ndarray:
    """Which pieces make up the digit (one bool per piece); none when no piece can.

    The heaviest is kept, then any piece close to what is kept, where "close" grows with the
    piece's weight: a speck must almost touch the digit, a piece half as heavy as the main one
    may lie a good way off (the detached bar of a 5, a 4 drawn in two strokes). With `within` (a
    pixel box), the start is instead every piece reaching into that box, the main one if none does.
    """
    weight, boxes = pieces.weight, pieces.boxes
    kept = np.zeros(len(weight), bool)
    main = int(weight.argmax())
    if weight[main] <= 0:
        return kept
    if within is not None:
        cell = pieces.cell
        seed = np.array([within.left // cell, within.top // cell, -(-within.right // cell), -(-within.bottom // cell)])
        kept = (weight > 0) & (gaps(seed, boxes) < 0)
    if not kept.any():
        kept[main] = True
    box = union(boxes[kept])
    reach = np.where(weight > 0, 0.08 + 0.4 * np.minimum(weight / weight[main], 1), -np.inf)
    while True:
        join = ~kept & (gaps(box, boxes) <= reach * max(box[2] - box[0], box[3] - box[1]))
        if not join.any():
            return kept
        kept |= join
        box = union(boxes[kept])

