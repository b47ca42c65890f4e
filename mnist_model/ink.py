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
MIN_DIGIT_FRACTION = 0.02  # ink spanning less of the image's long side than this is a speck
MIN_DIGIT_PIXELS = 4  # ... and so is ink spanning fewer source pixels than this
MIN_INK_FRACTION = 5e-5  # ink covering less of the image than this is a speck
REFINE_BELOW = 48  # a digit shorter than this (working pixels) in a shrunk image is re-read
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


def find_ink(image: Image.Image) -> Ink | None:
    """The digit's ink in an "L" or "RGBA" image; None when there is none (blank, or a speck)."""
    plane, matte, scale = working_plane(image)
    ink = _read(plane)
    if ink is None or _is_speck(ink, plane.shape[:2], scale):
        return None
    if scale > 1 and ink.box.long_side < REFINE_BELOW:
        ink = _refine(image, ink, scale, matte)
    return ink


def _refine(image: Image.Image, ink: Ink, scale: float, matte: np.ndarray | None) -> Ink:
    """The digit re-read from a crop of the source at a higher resolution than the first pass.

    The first pass saw the whole picture and decided which pieces make up the digit; this pass
    only sharpens them. It keeps every piece within the first pass's box (at a finer resolution
    the gap to a detached stroke may outgrow the reach that joined it), and its result is used
    only if it still covers that box, so ink the first pass kept is never lost.
    """
    crop = _source_box(ink.box, scale, image.size)
    plane, _, factor = working_plane(image.crop(crop), matte)
    # the first pass's box in the crop's working pixels
    left, top = (ink.box.left * scale - crop.left) / factor, (ink.box.top * scale - crop.top) / factor
    right, bottom = (ink.box.right * scale - crop.left) / factor, (ink.box.bottom * scale - crop.top) / factor
    refined = _read(plane, Box(math.floor(left), math.floor(top), math.ceil(right), math.ceil(bottom)))
    if refined is None:
        return ink
    # the first pass's box carries up to 2 of its pixels of rim (`dilate(kept, 2)` in `_read`)
    # that a sharper pass need not repeat, and 1 more for rounding
    slack = 3 * scale / factor
    box = refined.box
    covers = (box.left <= left + slack and box.top <= top + slack
              and box.right >= right - slack and box.bottom >= bottom - slack)  # fmt: skip
    return refined if covers else ink


def _source_box(box: Box, scale: float, size: tuple[int, int]) -> Box:
    """The source-image box around a working-image box, with half its long side as margin."""
    margin = box.long_side / 2 + 2
    return Box(
        max(0, math.floor((box.left - margin) * scale)),
        max(0, math.floor((box.top - margin) * scale)),
        min(size[0], math.ceil((box.right + margin) * scale)),
        min(size[1], math.ceil((box.bottom + margin) * scale)),
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
    background, noise = _fit_background(plane)
    departure = plane - background
    lighter, darker = departure.max(axis=2), (-departure).max(axis=2)
    margin = max(4 * noise, 0.04)
    light_ink = np.clip(lighter - margin, 0, None).sum() > np.clip(darker - margin, 0, None).sum()
    strength = np.clip(lighter if light_ink else darker, 0, None)
    peak = float(strength.max())
    if peak < max(MIN_CONTRAST, 6 * noise):
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
    pieces = find_pieces(weak, strong, soft)
    kept = weak & pieces.mask(digit_pieces(pieces, within), weak.shape)
    if not kept.any():
        return None
    soft *= dilate(kept, 2)  # keep the anti-aliased rim of the kept strokes, nothing else
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


def find_pieces(weak: np.ndarray, strong: np.ndarray, soft: np.ndarray) -> Pieces:
    """The connected parts of `weak`, found on a grid of at most CELLS a side, weighed by `soft`.

    A piece holding no `strong` ink weighs nothing, and so does a piece along most of the
    image's edge: a frame, such as the table around a photographed sheet.
    """
    height, width = weak.shape
    cell = max(1, math.ceil(max(height, width) / CELLS))
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
