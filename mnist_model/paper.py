"""The working plane of a picture, and its ink told apart from the paper.

Every analysis of a picture (one digit's ink in `mnist_model.ink`, a line's digits in
`mnist_model.line`) starts here:

- the working plane: the image box-averaged to at most `WORK_SIZE` a side, so the heavier steps
  cost the same for any input; transparent pixels are background whatever colour they store, and
  a lone stroke layer (black strokes on transparent black) is read from its alpha;
- the paper: its level is fitted as a smooth surface from block medians and subtracted, so a
  lighting gradient, grey paper or a coloured background is not ink, nor is the table showing
  around a photographed sheet; polarity (dark ink on light paper or the reverse) is detected,
  and ink is the largest per-channel departure from the paper, so a red or blue pen counts as
  fully as a black one;
- the ink: Otsu's threshold on the background-free image separates ink from noise, and
  hysteresis traces pieces through fainter ink (`Separated`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .pieces import CELLS, Pieces, find_pieces

WORK_SIZE = 256  # the analysis runs on at most this many pixels a side
MIN_CONTRAST = 0.08  # ink must differ from the paper by this much (of full scale) to count
MIN_PEAK = 0.15  # ... and its darkest stroke by this much: fainter is a fold, a fibre, a shadow
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


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



@dataclass(frozen=True)
class Separated:
    """Ink told apart from the paper on a working plane, before any piece is chosen."""

    soft: np.ndarray  # (H, W) float32 in [0, 1]: how much ink each pixel holds
    weak: np.ndarray  # (H, W) bool: faint enough ink to trace a stroke through ...
    strong: np.ndarray  # ... and confident ink, of which every piece must hold some

    def pieces(self, cells: int = CELLS) -> Pieces:
        """The connected pieces of the weak ink, on a grid of at most `cells` a side."""
        return find_pieces(self.weak, self.strong, self.soft, cells)


def separate(plane: np.ndarray) -> Separated | None:
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

