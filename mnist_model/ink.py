"""Finding the digit's ink in a picture: what is paper, what is ink, which ink is the digit.

A Sketchpad drawing, an uploaded file and a phone photo of paper each show the digit differently,
and the MNIST recipe (`mnist_model.preprocess`) needs only the ink, as a soft mask in [0, 1].
The steps, in the order `find_ink` takes them:

- the working plane: the image box-averaged to at most `WORK_SIZE` a side, so the heavier steps
  cost the same for any input; transparent pixels are background whatever colour they store, and
  a lone stroke layer (black strokes on transparent black) is read from its alpha;
- the paper: its level is fitted as a smooth surface from block medians and subtracted, so a
  lighting gradient, grey paper or a coloured background is not ink, nor is the table showing
  around a photographed sheet; polarity (dark ink on light paper or the reverse) is detected,
  and ink is the largest per-channel departure from the paper, so a red or blue pen counts as
  fully as a black one;
- the ink: Otsu's threshold on the background-free image separates ink from noise, and
  hysteresis traces pieces through fainter ink;
- the pieces: connected pieces of ink are found on a coarse grid and those that make up the digit
  are kept, so small marks far from it cannot stretch its box;
- the re-read: a digit that is small in a large picture is read again from a crop at a higher
  resolution, keeping every piece the first look found.

People also write whole numbers, so `find_digits` takes the same first steps and then splits the
ink into digits, left to right (see its docstring): the pieces of one digit (a 4 in two strokes,
a crossbar, a dotted stroke) are grouped, specks, dots and dashes are left out, digits that touch
are cut where they meet, and each digit comes out as the same `Ink` that the MNIST recipe takes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image

WORK_SIZE = 256  # the analysis runs on at most this many pixels a side
CELLS = 64  # longest side of the grid on which connected pieces of ink are found
MIN_CONTRAST = 0.08  # ink must differ from the paper by this much (of full scale) to count
MIN_PEAK = 0.15  # ... and its darkest stroke by this much: fainter is a fold, a fibre, a shadow
MIN_DIGIT_FRACTION = 0.02  # ink spanning less of the image's long side than this is a speck
MIN_DIGIT_PIXELS = 4  # ... and so is ink spanning fewer source pixels than this
MIN_INK_FRACTION = 5e-5  # ink covering less of the image than this is a speck
REFINE_BELOW = 48  # a digit shorter than this (working pixels) in a shrunk image is re-read
REREAD_BELOW = 20  # ... and so is a digit of a number, where the plane holds less than MNIST's 20x20 box
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


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
    source: Box  # the ink's box in the pixels of the image it was found in
    cut: bool  # cut from ink it shared with a neighbour: touching digits, the likeliest to be misread


def find_ink(image: Image.Image) -> Ink | None:
    """The digit's ink in an "L" or "RGBA" image; None when there is none (blank, or a speck)."""
    plane, matte, scale = working_plane(image)
    found = _one_digit(image, plane, matte, scale, _separate(plane))
    return None if found is None else found.ink


def _one_digit(
    image: Image.Image, plane: np.ndarray, matte: np.ndarray | None, scale: float, separated: Separated | None
) -> Digit | None:
    """`find_ink`'s digit, from the image's working plane and the ink separated on it."""
    if separated is None:
        return None
    pieces = separated.pieces()
    ink = _keep(separated, pieces, digit_pieces(pieces))
    if ink is None or _is_speck(ink, plane.shape[:2], scale):
        return None
    origin = (0, 0)
    if scale > 1 and ink.box.long_side < REFINE_BELOW:
        ink, origin, scale = _refine(image, ink, scale, matte)
    return Digit(ink, _to_source(ink.box, origin, scale, image.size), cut=False)


def _refine(image: Image.Image, ink: Ink, scale: float, matte: np.ndarray | None) -> tuple[Ink, tuple[int, int], float]:
    """The digit re-read from a crop of the source at a higher resolution than the first pass.

    The first pass saw the whole picture and decided which pieces make up the digit; this pass
    only sharpens them. It keeps every piece within the first pass's box (at a finer resolution
    the gap to a detached stroke may outgrow the reach that joined it), and its result is used
    only if it still covers that box, so ink the first pass kept is never lost.

    Returns the ink and where its plane lies in the source: the origin of the crop (0, 0 for
    the image itself) and the source pixels per plane pixel.
    """
    crop = _source_box(ink.box, scale, image.size)
    plane, _, factor = working_plane(image.crop(crop), matte)
    left, top, right, bottom = _in_crop(ink.box, crop, scale, factor)
    refined = _read(plane, Box(math.floor(left), math.floor(top), math.ceil(right), math.ceil(bottom)))
    if refined is None or not _covers(refined.box, ink.box, crop, scale, factor):
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


def _covers(box: Box, first: Box, crop: Box, scale: float, factor: float) -> bool:
    """Whether a sharper pass's box on a crop's plane covers the first pass's box."""
    left, top, right, bottom = _in_crop(first, crop, scale, factor)
    # the first pass's box carries up to 2 of its pixels of rim (`dilate(kept, 2)` in `_keep`)
    # that a sharper pass need not repeat, and 1 more for rounding
    slack = 3 * scale / factor
    return (box.left <= left + slack and box.top <= top + slack
            and box.right >= right - slack and box.bottom >= bottom - slack)  # fmt: skip


def _source_box(box: Box, scale: float, size: tuple[int, int]) -> Box:
    """The source-image box around a working-image box, with half its long side as margin."""
    margin = box.long_side / 2 + 2
    return Box(
        max(0, math.floor((box.left - margin) * scale)),
        max(0, math.floor((box.top - margin) * scale)),
        min(size[0], math.ceil((box.right + margin) * scale)),
        min(size[1], math.ceil((box.bottom + margin) * scale)),
    )


def _to_source(box: Box, origin: tuple[int, int], factor: float, size: tuple[int, int]) -> Box:
    """A working plane's box in the pixels of the source image of `size`: the plane starts at the
    source pixel `origin` and each of its pixels averages `factor` x `factor` source pixels."""
    left, top = origin
    return Box(
        max(0, math.floor(left + box.left * factor)),
        max(0, math.floor(top + box.top * factor)),
        min(size[0], math.ceil(left + box.right * factor)),
        min(size[1], math.ceil(top + box.bottom * factor)),
    )


def _is_speck(ink: Ink, shape: tuple[int, int], scale: float) -> bool:
    """Ink too small to be a digit: a dot, a crumb, a sensor speck."""
    long_side = ink.box.long_side
    return (
        long_side < MIN_DIGIT_FRACTION * max(shape)
        or long_side * scale < MIN_DIGIT_PIXELS
        or float(ink.soft.sum()) < MIN_INK_FRACTION * shape[0] * shape[1]
    )


# --------------------------------------------------------------------------------------------
# The working plane


def working_plane(
    image: Image.Image, matte: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """An "L" or "RGBA" image box-averaged to at most WORK_SIZE a side, as the analysis sees it.

    Returns floats (H, W, C) in [0, 1] with alpha resolved (C is 1 for grey pictures, else 3),
    the matte that transparent pixels took (see `_resolve_alpha`; passing it back flattens a
    crop of the same image the same way) and the factor, source pixels per working pixel.
    """
    factor = math.ceil(max(image.size) / WORK_SIZE)
    pixels = np.asarray(_reduce(image, factor))
    if image.mode == "L":
        return (pixels.astype(np.float32) / 255)[:, :, None], None, float(factor)
    # RGBA is averaged first as stored, which skips premultiplying for opaque pictures such as
    # every Sketchpad drawing. Where every block's alpha still averages to 255, no block misses
    # more than half a level of alpha per pixel, so no colour is more than half a grey level
    # from the premultiplied one.
    if pixels[:, :, 3].min() == 255:
        return _colour(pixels), None, float(factor)
    # Otherwise premultiplied ("RGBa"), so that colours stored under transparent pixels cannot
    # bleed into the average.
    pixels = np.asarray(_reduce(image.convert("RGBa"), factor))
    return *_resolve_alpha(pixels, matte), float(factor)


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """Box averages of `factor` x `factor` pixels, of the values as stored."""
    if factor == 1:
        return image
    # Pillow's public reduce premultiplies RGBA and back around this call: +26% on a drawing's preprocess, +7% a photo's
    return image._new(image.im.reduce((factor, factor), (0, 0, *image.size)))


def _colour(pixels: np.ndarray) -> np.ndarray:
    """The colour channels of (H, W, 3 or 4) uint8 pixels as floats; one channel if grey."""
    colour = pixels[:, :, :3]
    red, green, blue = colour[:, :, 0], colour[:, :, 1], colour[:, :, 2]
    if np.array_equal(red, green) and np.array_equal(red, blue):
        colour = colour[:, :, :1]  # grey, perhaps on a transparent canvas: one channel will do
    return colour.astype(np.float32) / 255


def _resolve_alpha(pixels: np.ndarray, matte: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied RGBa pixels flattened onto a matte; the matte too.

    Transparent pixels take the colour of a matte decided from the opaque ones: where most of
    the image is opaque the opaque pixels are paper and the matte is their median colour; where
    little is, they are strokes and the matte is white or black, whichever contrasts with them.
    """
    colour = _colour(pixels)
    alpha = pixels[:, :, 3].astype(np.float32) / 255
    if matte is None:
        opaque = alpha > 0.5
        if opaque.mean() >= 0.5:
            matte = np.median(colour[opaque] / alpha[opaque][:, None], axis=0)
        else:  # the mean colour of the strokes, premultiplied sums over alpha
            mean = colour.reshape(-1, colour.shape[2]).sum(axis=0) / max(float(alpha.sum()), 1e-6)
            matte = np.ones(3) if float(np.resize(mean, 3) @ _LUMA) < 0.5 else np.zeros(3)
        matte = np.asarray(matte, np.float32)
    if colour.shape[2] == 1 and matte.size == 3 and not (matte[0] == matte[1] == matte[2]):
        colour = np.repeat(colour, 3, axis=2)
    colour = colour + matte[: colour.shape[2]] * (1 - alpha)[:, :, None]
    return np.clip(colour, 0, 1), matte


# --------------------------------------------------------------------------------------------
# Paper and ink


def _read(plane: np.ndarray, within: Box | None = None) -> Ink | None:
    """Separate the ink from the paper on a working plane; None when there is no ink to speak of.

    `within` is where the digit is already known to be: every piece of ink reaching into it is
    part of the digit (see `digit_pieces`).
    """
    separated = _separate(plane)
    if separated is None:
        return None
    pieces = separated.pieces()
    return _keep(separated, pieces, digit_pieces(pieces, within))


@dataclass(frozen=True)
class Separated:
    """Ink told apart from the paper on a working plane, before any piece is chosen."""

    soft: np.ndarray  # (H, W) float32 in [0, 1]: how much ink each pixel holds
    weak: np.ndarray  # (H, W) bool: faint enough ink to trace a stroke through ...
    strong: np.ndarray  # ... and confident ink, of which every piece must hold some

    def pieces(self, cells: int = CELLS) -> Pieces:
        """The connected pieces of the weak ink, on a grid of at most `cells` a side."""
        return find_pieces(self.weak, self.strong, self.soft, cells)


def _separate(plane: np.ndarray) -> Separated | None:
    """Which pixels hold ink, and how much; None when there is no ink to speak of."""
    background, noise = _fit_background(plane)
    departure = plane - background
    lighter, darker = departure.max(axis=2), (-departure).max(axis=2)
    margin = max(4 * noise, 0.04)
    light_ink = np.clip(lighter - margin, 0, None).sum() > np.clip(darker - margin, 0, None).sum()
    strength = np.clip(lighter if light_ink else darker, 0, None)
    peak = float(strength.max())
    if peak < max(MIN_PEAK, 6 * noise):
        return None
    floor = 3 * noise + 0.002
    threshold = max(_otsu(strength[strength > floor], peak), 2 * floor, MIN_CONTRAST / 2)
    strong = strength > threshold
    if not strong.any():
        return None
    level = quantile(strength[strong], 0.9)  # full strength, as in MNIST's strokes
    soft = np.clip((strength - floor) / (level - floor), 0, 1)
    # hysteresis: pieces are traced through fainter ink, but must hold some confident ink
    weak = strength > max(threshold / 2, 2 * floor)
    return Separated(soft, weak, strong)


def _keep(separated: Separated, pieces: Pieces, chosen: np.ndarray) -> Ink | None:
    """The ink of the `chosen` pieces (one bool per piece), None if none holds any."""
    weak = separated.weak
    kept = weak & pieces.mask(chosen, weak.shape)
    if not kept.any():
        return None
    soft = separated.soft * dilate(kept, 2)  # keep the anti-aliased rim of the kept strokes, nothing else
    return Ink(soft.astype(np.float32), Box.around(soft))


def _fit_background(plane: np.ndarray) -> tuple[np.ndarray, float]:
    """The paper as a smooth surface per channel, and the noise level around it.

    A perfectly uniform border that is also the colour of most pixels is a digital canvas: the
    paper is that colour. Otherwise the paper is read from block medians, which ignore strokes
    thinner than half a block: from a first guess, a quadratic is refitted to the blocks that
    agree with the last fit, so blocks full of ink (a marker stroke, even one crossing the edge)
    are left out while a lighting gradient or a vignette is followed. Two first guesses are
    tried, the median border block and the median of all blocks (a photo may show the table
    around the sheet), and the fit that more blocks agree with wins. The noise is the spread of
    pixels within paper blocks. Where neither guess is near any block (half the blocks ink, half
    paper, so that both medians fall between the two), the paper is the border's median and the
    noise is read from all blocks.
    """
    height, width, channels = plane.shape
    border = _border(plane, max(1, min(height, width) // 25))
    if (border == border[0]).all() and (plane == border[0]).all(axis=2).mean() >= 0.5:
        return border[0], 0.0
    (ys, bh), (xs, bw) = _blocks(height), _blocks(width)
    ny, nx = len(ys), len(xs)
    step_y, step_x = max(1, bh // 8), max(1, bw // 8)  # a sample of each block is enough
    samples = plane[ys[:, ::step_y].ravel()][:, xs[:, ::step_x].ravel()]
    samples = samples.reshape(ny, -1, nx, samples.shape[1] // nx, channels).transpose(0, 2, 4, 1, 3)
    samples = samples.reshape(ny * nx, channels, -1)
    values = np.median(samples, axis=2)
    v, u = np.meshgrid(
        (ys.mean(axis=1) + 0.5) / height * 2 - 1,
        (xs.mean(axis=1) + 0.5) / width * 2 - 1,
        indexing="ij",
    )
    terms = _surface_terms(u.ravel(), v.ravel(), nx, ny)
    edge = ((v == v.min()) | (v == v.max()) | (u == u.min()) | (u == u.max())).ravel()
    inliers, coef = max(
        (_robust_fit(terms, values, start) for start in (values[edge], values)),
        key=lambda fit: int(fit[0].sum()),
    )
    if not inliers.any():
        inliers = np.ones(len(values), bool)
    surface = _evaluate_surface(
        coef,
        ((np.arange(width) + 0.5) / width * 2 - 1).astype(np.float32),
        ((np.arange(height) + 0.5) / height * 2 - 1).astype(np.float32),
    )
    within = np.abs(samples[inliers] - values[inliers][:, :, None]).max(axis=1)
    return surface, 1.4826 * float(np.median(within))


def _robust_fit(
    terms: np.ndarray, values: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Blocks agreeing with the surface (a mask) and its coefficients, refined from the
    constant median of `start`. No block agrees when that median lies between groups of
    blocks (ink and paper) farther apart than ink from paper: the mask is then empty."""
    used, coef = terms[:, :1], np.median(start, axis=0, keepdims=True)
    inliers = np.ones(len(values), bool)
    for _ in range(4):
        residual = np.abs(values - used @ coef).max(axis=1)
        spread = 1.4826 * float(np.median(residual[inliers]))
        # agreeing: within 3 spreads, but never as far off as ink or a table edge would be;
        # a steep gradient is then taken in over the rounds as the surface bends to it
        inliers = residual <= min(max(3 * spread, 0.03), 0.15)
        if not inliers.any():
            break
        used = terms[:, : min(terms.shape[1], int(inliers.sum()))]
        coef = np.linalg.lstsq(used[inliers], values[inliers], rcond=None)[0]
    return inliers, coef


def _border(plane: np.ndarray, ring: int) -> np.ndarray:
    """The pixels within `ring` of the edge, as rows of channel values (corners twice)."""
    channels = plane.shape[2]
    sides = (plane[:ring], plane[-ring:], plane[:, :ring], plane[:, -ring:])
    return np.concatenate([side.reshape(-1, channels) for side in sides])


def _blocks(length: int) -> tuple[np.ndarray, int]:
    """Indices (blocks, block size) of up to 8 equal blocks spread evenly from end to end,
    each at least 4 pixels long where the length allows."""
    count = max(1, min(8, length // 4))
    size = length // count
    starts = np.round(np.linspace(0, length - size, count)).astype(np.int64)
    return starts[:, None] + np.arange(size), size


def _surface_terms(u: np.ndarray, v: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """Columns 1, u, v, u^2, uv, v^2, as many as the grid can pin down."""
    columns = [np.ones_like(u)]
    if nx >= 2 and ny >= 2:
        columns += [u, v]
    if nx >= 3 and ny >= 3:
        columns += [u * u, u * v, v * v]
    return np.stack(columns, axis=1)


def _evaluate_surface(coef: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    coef = coef.astype(np.float32)
    u, v = xs[None, :, None], ys[:, None, None]
    surface = coef[0] + np.zeros((len(ys), len(xs), 1), np.float32)
    for term, c in zip((u, v, u * u, u * v, v * v), coef[1:]):
        surface = surface + term * c
    return surface


def _otsu(values: np.ndarray, peak: float, bins: int = 128) -> float:
    """Otsu's threshold of `values` in [0, peak]."""
    if values.size < 2:
        return 0.0
    index = np.minimum((values * (bins / peak)).astype(np.int64), bins - 1)
    hist = np.bincount(index, minlength=bins).astype(np.float64)
    centres = (np.arange(bins) + 0.5) * (peak / bins)
    weight = np.cumsum(hist)[:-1]
    total = hist.sum()
    mean_below = np.cumsum(hist * centres)[:-1]
    mean_all = float((hist * centres).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_all * weight - total * mean_below) ** 2 / (weight * (total - weight))
    return float((np.nanargmax(between) + 1) * (peak / bins)) if np.isfinite(between).any() else 0.0


def quantile(values: np.ndarray, q: float) -> float:
    """`np.quantile(values, q)` of a 1-D float array, to the bit (its default linear method)."""
    # np.quantile's general machinery instead: +6% on a drawing's whole preprocess (interleaved A/B)
    position = (values.size - 1) * q
    low = math.floor(position)
    high = min(low + 1, values.size - 1)
    part = np.partition(values, (low, high))
    below, above = part[low], part[high]
    gamma, step = position - low, above - below
    # numpy's interpolation, from whichever end is nearer, in the array's own precision
    return float(above - step * (1 - gamma) if gamma >= 0.5 else below + step * gamma)


def dilate(array: np.ndarray, radius: int) -> np.ndarray:
    """Grey dilation by a (2 radius + 1) square, zero outside the array."""
    out = array.copy()
    for _ in range(radius):
        grown = out.copy()
        np.maximum(grown[1:], out[:-1], out=grown[1:])
        np.maximum(grown[:-1], out[1:], out=grown[:-1])
        out = grown.copy()
        np.maximum(out[:, 1:], grown[:, :-1], out=out[:, 1:])
        np.maximum(out[:, :-1], grown[:, 1:], out=out[:, :-1])
    return out


# --------------------------------------------------------------------------------------------
# Pieces


@dataclass(frozen=True)
class Pieces:
    """Connected pieces of ink on a grid of square cells, coarse so that labelling is cheap."""

    cell: int  # pixels a side of one cell
    grid: tuple[int, int]  # rows, columns of cells
    cells: np.ndarray  # flat indices of the cells holding ink
    piece: np.ndarray  # the piece (0..count-1) each of those cells belongs to
    weight: np.ndarray  # per piece: its ink, 0 where it cannot be (part of) a digit
    boxes: np.ndarray  # per piece: left, top, right, bottom in cells, end-exclusive (count, 4)

    def mask(self, chosen: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """The pixels of the cells of the `chosen` pieces (one bool per piece), (H, W)."""
        rows, columns = self.grid
        keep = np.zeros(rows * columns, bool)
        keep[self.cells] = chosen[self.piece]
        grid = np.repeat(np.repeat(keep.reshape(rows, columns), self.cell, axis=0), self.cell, axis=1)
        return grid[: shape[0], : shape[1]]


def find_pieces(weak: np.ndarray, strong: np.ndarray, soft: np.ndarray, cells: int = CELLS) -> Pieces:
    """The connected parts of `weak`, found on a grid of at most `cells` a side, weighed by `soft`.

    A piece holding no `strong` ink weighs nothing, and so does a piece along most of the
    image's edge: a frame, such as the table around a photographed sheet.
    """
    height, width = weak.shape
    cell = max(1, math.ceil(max(height, width) / cells))
    gh, gw = math.ceil(height / cell), math.ceil(width / cell)
    padded = np.zeros((2, gh * cell, gw * cell), np.float32)
    padded[0, :height, :width] = soft * weak
    padded[1, :height, :width] = strong
    rows = padded.reshape(2, gh, cell, gw * cell).sum(axis=2).reshape(2, gh, gw, cell)
    sums = rows[..., 0].copy()  # the cells' columns added one by one: numpy sums a short
    for column in range(1, cell):  # last axis several times slower
        sums += rows[..., column]
    mass, confident = sums.reshape(2, -1)
    inked = mass > 0
    cells = np.flatnonzero(inked)
    piece, count = _label(inked.reshape(gh, gw))
    ys, xs = np.divmod(cells, gw)
    weight = np.bincount(piece, weights=mass[cells], minlength=count)
    weight[np.bincount(piece, weights=confident[cells], minlength=count) == 0] = 0
    boxes = np.tile(np.array([gw, gh, 0, 0]), (count, 1))
    np.minimum.at(boxes[:, 0], piece, xs)
    np.minimum.at(boxes[:, 1], piece, ys)
    np.maximum.at(boxes[:, 2], piece, xs + 1)
    np.maximum.at(boxes[:, 3], piece, ys + 1)
    rim = np.zeros((gh, gw), bool)
    rim[[0, -1]] = rim[:, [0, -1]] = True
    on_rim = np.bincount(piece[rim.ravel()[cells]], minlength=count)
    weight[on_rim > 0.6 * np.count_nonzero(rim)] = 0
    return Pieces(cell, (gh, gw), cells, piece, weight, boxes)


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
        kept = (weight > 0) & (_gaps(seed, boxes) < 0)
    if not kept.any():
        kept[main] = True
    box = _union(boxes[kept])
    reach = np.where(weight > 0, 0.08 + 0.4 * np.minimum(weight / weight[main], 1), -np.inf)
    while True:
        join = ~kept & (_gaps(box, boxes) <= reach * max(box[2] - box[0], box[3] - box[1]))
        if not join.any():
            return kept
        kept |= join
        box = _union(boxes[kept])


def _union(boxes: np.ndarray) -> np.ndarray:
    """The box around (count, 4) boxes, all left, top, right, bottom."""
    return np.array([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()])


def _gaps(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Empty cells between a box and each of `boxes` (left, top, right, bottom, end-exclusive;
    negative where they overlap)."""
    return np.maximum.reduce(
        [box[0] - boxes[:, 2], boxes[:, 0] - box[2], box[1] - boxes[:, 3], boxes[:, 1] - box[3]]
    )


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a small boolean grid: the label (0..count-1) of each True cell,
    in row-major order, pieces numbered by their first cell; and the count.

    Each cell takes the smallest index among itself and its neighbours, and pointers are jumped
    (a cell adopts its label's own label) so that long strokes converge in a few rounds.
    """
    height, width = mask.shape
    cells = np.flatnonzero(mask)
    own = np.arange(len(cells))
    index = np.full((height + 2, width + 2), -1)  # each True cell's place in `cells`, framed
    index[1:-1, 1:-1][mask] = own
    ys, xs = np.divmod(cells, width)
    offsets = np.arange(3)  # (9, cells): the places of each cell's 3x3 neighbourhood, or its own
    neighbours = index[(ys + offsets[:, None, None]), (xs + offsets[:, None])].reshape(9, -1)
    neighbours = np.where(neighbours >= 0, neighbours, own)
    label = own
    while True:
        lowest = label[neighbours].min(axis=0)
        lowest = lowest[lowest[lowest]]  # two jumps
        if np.array_equal(lowest, label):
            break
        label = lowest
    roots = label == own
    return np.cumsum(roots)[label] - 1, int(roots.sum())


# --------------------------------------------------------------------------------------------
# Numbers: the digits of one line of writing, left to right

STACK_GAP = 1.0  # pieces overlapping across half the narrower one's width, no farther apart than
# this much of the smaller one's long side, are strokes of one digit (a two-stroke 4, the bar of a
# 5, a crossbar, an 8 of two rings, a dotted upright)
MINOR = 0.6  # a part less tall than this (of the line's height) is no digit by itself: it belongs
MINOR_REACH = 0.2  # to the nearest ink within this (of the line's height), or else is no digit at all
ABUT = 0.05  # parts whose boxes come closer than this (of the line's height) are one digit when ...
ABUT_WIDTH = 0.9  # ... no wider together than this: a 4 whose bar stops short of its upright
CUT_WIDTH = 1.3  # ink wider than this (of the line's height, or its own if taller) is digits that touch ...
CUT_DIGIT = 0.75  # ... cut into one digit per this much of the line's height ...
CUT_SPAN = 0.3  # ... each cut within this (of a digit's width) of its even place (see `_cut`) ...
CUT_PART = 0.55  # ... if every part is at least this tall (of the line's height), as a digit is
MAX_PIECES = 96  # only the heaviest pieces are grouped: a line of digits has far fewer, noise more


def find_digits(image: Image.Image) -> list[Digit]:
    """The digits written in an "L" or "RGBA" image, left to right; [] when there are none.

    The ink is separated from the paper as for one digit and split into connected pieces at the
    working plane's own resolution, where a gap of one pixel still tells two digits apart. Pieces
    are grouped into digits (`_group_pieces`); a group far wider than the line is tall holds
    touching digits and is cut where they meet (`_cut`). A digit that is small in a
    large picture is re-read at a higher resolution (`_reread`), as `find_ink` re-reads one.
    Where all this leaves one digit or none, the answer is `find_ink`'s, to the bit: a single
    digit is read exactly as it always is.
    """
    plane, matte, scale = working_plane(image)
    separated = _separate(plane)
    if separated is None:
        return []
    parts = _split(separated, scale)
    if len(parts) <= 1:
        found = _one_digit(image, plane, matte, scale, separated)
        return [] if found is None else [found]
    digits = []
    for ink, region, cut in parts:
        origin, factor = (0, 0), scale
        if scale > 1 and ink.box.long_side < REREAD_BELOW:
            ink, origin, factor = _reread(image, ink, region, scale, matte)
        digits.append(Digit(ink, _to_source(ink.box, origin, factor, image.size), cut))
    return digits


def _split(separated: Separated, scale: float) -> list[tuple[Ink, np.ndarray, bool]]:
    """The digits of the separated ink, left to right: each one's ink, the region of the plane
    that is its own (a bool mask: its strokes and their rim, no neighbour's), and whether it was
    cut from a neighbour. Specks are left out, by the same rules as for one digit."""
    shape = separated.weak.shape
    pieces = separated.pieces(max(shape))  # one cell a pixel
    groups, line = _group_pieces(pieces.boxes, pieces.weight)
    owner = np.full(len(pieces.weight), -1)
    for number, members in enumerate(groups):
        owner[members] = number
    labels = np.full(shape[0] * shape[1], -1)
    labels[pieces.cells] = owner[pieces.piece]
    labels = labels.reshape(shape)
    parts: list[tuple[Box, int, bool]] = []  # each digit's box on the plane, label, and whether cut
    for number, members in enumerate(groups):
        box = Box(*(int(v) for v in _union(pieces.boxes[members])))
        parts += _cut(labels, separated.soft, number, box, line)
    digits = []
    for box, number, cut in sorted(parts, key=lambda part: part[0].left + part[0].right):
        ink, region = _digit_ink(separated.soft, labels, number, box)
        if not _is_speck(ink, shape, scale):
            digits.append((ink, region, cut))
    return digits


def _group_pieces(boxes: np.ndarray, weight: np.ndarray) -> tuple[list[np.ndarray], float]:
    """Pieces (boxes and weights, as `find_pieces` gives them) grouped into digits; the line's height.

    The line's height is the median height of the heavy pieces, then of the heavy groups, so
    digits of different heights and a sloped line barely move it. A part too short to be a digit
    (a detached bar, a dash of a broken stroke, a speck) joins the nearest ink within reach, the
    closest pair first, so a dotted stroke comes together; strokes one above another make one
    digit (`_stacked`). What stays short is no digit (a speck, a dot, a dash) and is left out.
    """
    live = np.flatnonzero(weight > 0)
    if not live.size:
        return [], 0.0
    if live.size > MAX_PIECES:
        live = np.sort(live[np.argsort(weight[live], kind="stable")[-MAX_PIECES:]])
    groups = [live[i : i + 1] for i in range(len(live))]
    box, mass = boxes[live].astype(np.float64), weight[live].astype(np.float64)
    line = _line_height(box, mass)
    groups, box, mass = _join_minor(groups, box, mass, line)
    while len(groups) > 1:
        joined = _stacked(box) | _abutting(box, line)
        if not joined.any():
            break
        groups, box, mass = _merge(groups, box, mass, joined)
    line = _line_height(box, mass)
    groups, box, mass = _join_minor(groups, box, mass, line)
    return [group for group, tall in zip(groups, box[:, 3] - box[:, 1]) if tall >= MINOR * line], line


def _line_height(box: np.ndarray, mass: np.ndarray) -> float:
    """The median height of the boxes holding at least a fifth of the heaviest one's ink."""
    return float(np.median((box[:, 3] - box[:, 1])[mass >= 0.2 * mass.max()]))


def _join_minor(
    groups: list[np.ndarray], box: np.ndarray, mass: np.ndarray, line: float
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Parts shorter than a digit joined to the nearest ink within reach, the closest pair first."""
    while len(groups) > 1:
        minor = box[:, 3] - box[:, 1] < MINOR * line
        if not minor.any():
            break
        gaps = np.maximum.reduce([box[:, None, 0] - box[None, :, 2], box[None, :, 0] - box[:, None, 2],
                                  box[:, None, 1] - box[None, :, 3], box[None, :, 1] - box[:, None, 3]])  # fmt: skip
        gaps[~(minor[:, None] | minor[None, :])] = np.inf
        np.fill_diagonal(gaps, np.inf)
        first, second = np.unravel_index(int(gaps.argmin()), gaps.shape)
        if gaps[first, second] > MINOR_REACH * line:
            break
        joined = np.zeros(gaps.shape, bool)
        joined[min(first, second), max(first, second)] = True
        groups, box, mass = _merge(groups, box, mass, joined)
    return groups, box, mass


def _stacked(box: np.ndarray) -> np.ndarray:
    """Which pairs of boxes (left, top, right, bottom) lie one above the other: upper triangle."""
    left, top, right, bottom = box.T
    width = right - left
    overlap = np.minimum(right[:, None], right[None, :]) - np.maximum(left[:, None], left[None, :])
    gap = np.maximum(top[None, :] - bottom[:, None], top[:, None] - bottom[None, :])
    long_side = np.maximum(width, bottom - top)
    joined = (overlap >= 0.5 * np.minimum(width[:, None], width[None, :])) & (
        gap <= STACK_GAP * np.minimum(long_side[:, None], long_side[None, :])
    )
    return np.triu(joined, 1)


def _abutting(box: np.ndarray, line: float) -> np.ndarray:
    """Which pairs of boxes nearly touch and together are no wider than a digit: upper triangle."""
    left, top, right, bottom = box.T
    gap = np.maximum.reduce([left[:, None] - right[None, :], left[None, :] - right[:, None],
                             top[:, None] - bottom[None, :], top[None, :] - bottom[:, None]])  # fmt: skip
    width = np.maximum(right[:, None], right[None, :]) - np.minimum(left[:, None], left[None, :])
    return np.triu((gap <= ABUT * line) & (width <= ABUT_WIDTH * line), 1)


def _merge(
    groups: list[np.ndarray], box: np.ndarray, mass: np.ndarray, joined: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Groups merged along the pairs marked in `joined` (and through them, transitively)."""
    root = list(range(len(groups)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    for first, second in np.argwhere(joined):
        root[find(int(second))] = find(int(first))
    members: dict[int, list[int]] = {}
    for i in range(len(groups)):
        members.setdefault(find(i), []).append(i)
    together = list(members.values())
    return (
        [np.concatenate([groups[i] for i in part]) for part in together],
        np.array([_union(box[part]) for part in together]),
        np.array([mass[part].sum() for part in together]),
    )


def _cut(labels: np.ndarray, soft: np.ndarray, number: int, box: Box, line: float) -> list[tuple[Box, int, bool]]:
    """The group `number` within `box`, cut into touching digits where it is too wide for one.

    Where two digits meet, a column crosses one stroke only, their contact; through a wide 0 or
    2 every column crosses two. So each cut falls at the column of least ink, among those that
    cross one stroke, near its even place; the pixels right of it take a new label (above every
    existing one). No cut is made where no such column is near, or where a part would be too
    short to be a digit (a 7 with a long bar): the group is then one wide digit.
    """
    width, height = box.right - box.left, box.bottom - box.top
    if width <= CUT_WIDTH * max(line, height):
        return [(box, number, False)]
    count = max(2, round(width / (CUT_DIGIT * line)))
    window = labels[box.slices]
    own = window == number
    profile = (soft[box.slices] * own).sum(axis=0)
    strokes = np.count_nonzero(own[1:] & ~own[:-1], axis=0) + own[0]  # strokes each column crosses
    columns = np.arange(width)
    edges = [0]
    for place in range(1, count):
        even = place * width / count
        span = np.flatnonzero((np.abs(columns - even) <= CUT_SPAN * width / count) & (strokes == 1))
        if not span.size:
            return [(box, number, False)]
        nearness = np.abs(span - even) * (1e-6 * float(profile.max()))  # ties go to the even place
        edges.append(int(span[np.argmin(profile[span] + nearness)]))
    edges.append(width)
    parts = []
    for start, end in zip(edges[:-1], edges[1:]):
        rows = np.flatnonzero(own[:, start:end].any(axis=1))
        if not rows.size or rows[-1] + 1 - rows[0] < CUT_PART * line:
            return [(box, number, False)]
        parts.append(Box(box.left + start, box.top + int(rows[0]), box.left + end, box.top + int(rows[-1]) + 1))
    top = int(labels.max()) + 1
    for place in range(1, count):
        strip = window[:, edges[place] : edges[place + 1]]
        strip[own[:, edges[place] : edges[place + 1]]] = top + place - 1
    return [(part, number if place == 0 else top + place - 1, True) for place, part in enumerate(parts)]


def _digit_ink(soft: np.ndarray, labels: np.ndarray, number: int, box: Box) -> tuple[Ink, np.ndarray]:
    """The ink of label `number` (within `box`) with its anti-aliased rim but no neighbour's ink,
    and the region of the plane it was taken from (a bool mask)."""
    height, width = labels.shape
    window = Box(max(0, box.left - 4), max(0, box.top - 4), min(width, box.right + 4), min(height, box.bottom + 4))
    near = labels[window.slices]
    kept = near == number
    region = np.zeros(labels.shape, bool)
    region[window.slices] = dilate(kept, 2) & ~dilate((near >= 0) & ~kept, 1)
    out = np.where(region, soft, 0).astype(np.float32)
    return Ink(out, Box.around(out)), region


def _reread(
    image: Image.Image, ink: Ink, region: np.ndarray, scale: float, matte: np.ndarray | None
) -> tuple[Ink, tuple[int, int], float]:
    """One digit of a number re-read from a crop of the source at a higher resolution.

    As `_refine` does for a lone digit, but only the ink within the digit's own `region` of the
    first pass is kept, since the crop may show its neighbours. Returns the ink and where its
    plane lies in the source (the crop's origin, source pixels per plane pixel); the first
    pass's ink, on the image's plane, where the sharper read does not cover it.
    """
    crop = _source_box(ink.box, scale, image.size)
    plane, _, factor = working_plane(image.crop(crop), matte)
    separated = _separate(plane)
    if separated is None:
        return ink, (0, 0), scale
    # each of the crop's plane pixels, by its centre, in the first pass's pixels
    rows = ((crop.top + (np.arange(plane.shape[0]) + 0.5) * factor) / scale).astype(np.int64)
    columns = ((crop.left + (np.arange(plane.shape[1]) + 0.5) * factor) / scale).astype(np.int64)
    inside = region[np.ix_(np.minimum(rows, region.shape[0] - 1), np.minimum(columns, region.shape[1] - 1))]
    kept = separated.weak & inside
    if not kept.any():
        return ink, (0, 0), scale
    soft = np.where(dilate(kept, 2) & inside, separated.soft, 0).astype(np.float32)
    refined = Ink(soft, Box.around(soft))
    if not _covers(refined.box, ink.box, crop, scale, factor):
        return ink, (0, 0), scale
    return refined, (crop.left, crop.top), factor
