"""The one road from "an image a user sent" to the model's (1, 28, 28) input.

The model only ever saw MNIST, so every input is rebuilt the way MNIST itself was made: the ink
is found, fitted into a 20x20 box keeping its aspect ratio, anti-aliased, and placed in a 28x28
field so that its centre of mass lies at the centre; white ink on black, floats in [0, 1]. A
Sketchpad drawing, an uploaded file and a phone photo of paper all differ from MNIST in ways the
network cannot undo by itself, and each is handled here, once, for the app, the CLI and the tests:

- any PIL mode, EXIF rotation, first frame of animations; hostile files (decompression bombs,
  truncated or mislabelled data, formats outside `FORMATS`) end as one `ImageError` sentence,
  never a crash or a hang;
- transparency: transparent pixels are background whatever colour they store, and a lone
  stroke layer (black strokes on transparent black) is read from its alpha;
- the paper: its level is fitted as a smooth surface from block medians and subtracted, so a
  lighting gradient, grey paper or a coloured background is not ink, nor is the table showing
  around a photographed sheet; polarity (dark ink on light paper or the reverse) is detected,
  and ink is the largest per-channel departure from the paper, so a red or blue pen counts as
  fully as a black one;
- the digit: Otsu on the background-free image separates ink from noise; small marks far from
  the main mass are dropped so they cannot stretch the bounding box; a digit that is small in
  a large picture is re-read from a crop at higher resolution, keeping every piece the first
  look found;
- the strokes: thin lines on a big canvas would fade to nothing when shrunk 20-fold, so they
  are first widened to MNIST's stroke width (and marker strokes thinned to its widest); the
  ink is then scaled to full strength.

Large inputs are shrunk early (JPEGs even decoded at reduced scale) so the heavier steps run on
at most `WORK_SIZE` pixels a side; an 800x800 sketch takes a few milliseconds. An image that
already looks like MNIST (28x28, centred, long side 20) passes through unchanged.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from . import png

MAX_PIXELS = 40_000_000  # images declaring more pixels are refused before they are decoded
# The formats people send. Left out on purpose: icons (ICO, ICNS), which decode an embedded image
# larger than their header declares, past MAX_PIXELS; JPEG 2000, seconds of CPU for a few KB;
# EPS, which runs Ghostscript; and PIL's many scientific and legacy formats.
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "AVIF", "BMP", "TIFF")  # "JPEG" reads phones' MPO too
WORK_SIZE = 256  # the analysis runs on at most this many pixels a side
DECODE_SIZE = 1024  # JPEGs are decoded at the smallest built-in scale that keeps this long side
CANVAS = 28  # MNIST's field ...
BOX = 20  # ... and the box its digits were fitted into
CELLS = 64  # longest side of the grid on which connected pieces of ink are found
MIN_CONTRAST = 0.08  # ink must differ from the paper by this much (of full scale) to count
MIN_DIGIT_FRACTION = 0.02  # ink spanning less of the image's long side than this is a speck
MIN_DIGIT_PIXELS = 4  # ... and so is ink spanning fewer source pixels than this
MIN_INK_FRACTION = 5e-5  # ink covering less of the image than this is a speck
REFINE_BELOW = 48  # a digit shorter than this (working pixels) in a shrunk image is re-read
# When shrinking, strokes are brought into this range of widths in the 20x20 box, measured as
# 2 * ink / edge length: MNIST's median is 1.8, its 99th percentile 3.4.
THIN_STROKE = 2.0
THICK_STROKE = 3.5
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray | dict


class ImageError(ValueError):
    """The input is not a usable image; the message is one clear sentence for the user."""


@dataclass(frozen=True)
class Preprocessed:
    """What the model sees: the tensor (None when no digit was found) and a picture of it."""

    tensor: torch.Tensor | None  # (1, 28, 28) float32 in [0, 1], white on black
    preview: Image.Image  # 28x28 mode "L" of what the model sees (all black when blank)

    @property
    def is_blank(self) -> bool:
        return self.tensor is None


def preprocess(source: ImageSource | None) -> Preprocessed:
    """Load any supported input (see `load_image`) and turn it into the model's input."""
    image = load_image(source)
    return _blank() if image is None else to_mnist(image)


# --------------------------------------------------------------------------------------------
# Loading


def load_image(source: ImageSource | None) -> Image.Image | None:
    """Decode `source` into a PIL image of mode "L" (no colour, no alpha) or "RGBA" (otherwise).

    `source` is a file path, the bytes of a file, a PIL image, a numpy array (HxW, HxWx1..4;
    uint8, uint16, bool, or float in [0, 1]) or a Gradio Sketchpad/ImageEditor value (a dict
    with "background", "layers" and "composite"). Returns None for an empty Sketchpad or None.
    EXIF orientation is applied; files give their first frame, a PIL image its current one.
    Large JPEGs are decoded at a reduced scale (long side still >= `DECODE_SIZE`).
    Raises `ImageError`, and nothing else, for anything that is not a usable image.
    """
    if source is None:
        return None
    if isinstance(source, dict):
        return _load_editor_value(source)
    return _load_one(source)


def _load_editor_value(value: dict) -> Image.Image | None:
    """A Sketchpad value: its composite, else the background with the layers drawn over it."""
    if not {"background", "layers", "composite"} & value.keys():
        raise ImageError(
            "A dict input must be a Gradio Sketchpad value with 'background', 'layers' and "
            "'composite' keys."
        )
    if value.get("composite") is not None:
        return _load_one(value["composite"])
    layers = value.get("layers") or []
    if not isinstance(layers, (list, tuple)):
        raise ImageError("The Sketchpad value's 'layers' must be a list of images.")
    images = [_load_one(part) for part in [value.get("background"), *layers] if part is not None]
    if len(images) <= 1:
        return images[0] if images else None
    canvas = images[0].convert("RGBA")
    for layer in images[1:]:
        # crop() pads or trims the layer to the canvas, filling with transparent pixels
        canvas.alpha_composite(layer.convert("RGBA").crop((0, 0, *canvas.size)))
    return canvas


def _load_one(source: Any) -> Image.Image:
    if isinstance(source, Image.Image):
        return _normalise_mode(_upright(_loaded(source)))
    if isinstance(source, np.ndarray):
        return _from_array(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageError("The uploaded file is empty.")
        return _decode(io.BytesIO(bytes(source)), "The uploaded file")
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise ImageError(f"There is no file at {path}.")
        # named by its base name: the app's uploads sit in a cache folder the user never saw
        name = f"The file {os.path.basename(path)}"
        if os.path.getsize(path) == 0:
            raise ImageError(f"{name} is empty.")
        with open(path, "rb") as handle:
            return _decode(handle, name)
    raise ImageError(f"Cannot read an image from an object of type {type(source).__name__}.")


def _decode(handle: BinaryIO, name: str) -> Image.Image:
    try:
        with Image.open(handle, formats=FORMATS) as image:
            _check_size(image.size, name)  # before anything is decoded
            if image.format == "JPEG":
                shrink = DECODE_SIZE / max(image.size)
                if shrink < 0.5:
                    wanted = (math.ceil(image.width * shrink), math.ceil(image.height * shrink))
                    image.draft(image.mode, wanted)
            fast = png.decode(handle, image)  # most PNGs, where libspng is installed
            if fast is not None:
                return _normalise_mode(fast)
            image.load()  # the first frame only; truncated or corrupt data fails here
            return _normalise_mode(_upright(image))
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image in a format this app can read.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name} declares too many pixels to be decoded safely.") from None
    except Exception:  # noqa: BLE001 - decoders of hostile data fail in many ways; all mean this
        raise ImageError(f"{name} is damaged or truncated and could not be decoded.") from None


def _loaded(image: Image.Image) -> Image.Image:
    """A PIL image handed in, its size checked and its pixels (perhaps still lazy) decoded."""
    _check_size(image.size, "The image")
    try:
        image.load()
    except Exception:  # noqa: BLE001 - as in _decode
        raise ImageError("The image is damaged or truncated and could not be decoded.") from None
    return image


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; the image itself (no copy) if upright."""
    try:
        if image.getexif().get(ExifTags.Base.Orientation, 1) in (0, 1):
            return image
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a malformed EXIF block is not worth refusing the picture
        return image


def _check_size(size: tuple[int, int], name: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"{name} has no pixels.")
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name} is {width}x{height} pixels, more than the {MAX_PIXELS:,} this app accepts."
        )


def _from_array(array: np.ndarray) -> Image.Image:
    if array.ndim == 3 and array.shape[2] in (1, 2, 3, 4):
        channels = array.shape[2]
    elif array.ndim == 2:
        channels = 1
    else:
        raise ImageError(f"An image array must be HxW or HxWx1..4, not {array.shape}.")
    _check_size((array.shape[1], array.shape[0]), "The image array")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
            raise ImageError("A float image array must hold finite values in [0, 1].")
        array = _to_uint8(array)
    elif array.dtype == np.uint16:
        array = _to_uint8(array)
    elif array.dtype != np.uint8:
        raise ImageError(f"An image array must be uint8, uint16, bool or float, not {array.dtype}.")
    array = np.ascontiguousarray(array.reshape(array.shape[:2]) if channels == 1 else array)
    return _normalise_mode(Image.fromarray(array))  # the mode follows from the shape


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Any PIL mode -> "L" (grey, no alpha) or "RGBA"; high-bit greys are scaled to 8 bits."""
    mode = image.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        return _high_bit_to_l(image)
    if "transparency" in image.info:  # a palette or grey PNG with a transparent colour
        return image.convert("RGBA")
    if mode in ("L", "RGBA"):
        return image
    if mode == "1":
        return image.convert("L")
    try:
        return image.convert("RGBA")
    except ValueError:  # modes PIL cannot convert directly (LAB, HSV) go through RGB
        try:
            return image.convert("RGB").convert("RGBA")
        except ValueError:
            raise ImageError(f"Images of colour mode {mode} are not supported.") from None


def _high_bit_to_l(image: Image.Image) -> Image.Image:
    return Image.fromarray(_to_uint8(np.asarray(image)))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """High-bit or float pixel values to 8 bits.

    Floats within [0, 1] are fractions of white. Otherwise white is the top of the smallest
    usual bit depth (8, 10, 12, 14, 16) that holds the largest value, so a 12-bit scan in a
    16-bit file is not read as nearly black; values outside [0, 65535] are stretched from their
    minimum to their maximum.
    """
    fractions = np.issubdtype(values.dtype, np.floating)
    values = values.astype(np.float64)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if fractions and low >= 0 and high <= 1:
        low, high = 0.0, 1.0
    elif low >= 0 and high <= 65535:
        high = float(next(2**bits - 1 for bits in (8, 10, 12, 14, 16) if high <= 2**bits - 1))
        low = 0.0
    values = np.nan_to_num(values, nan=low, posinf=high, neginf=low)
    scaled = (values - low) * (255 / max(high - low, 1e-12))
    return np.clip(scaled, 0, 255).round().astype(np.uint8)


# --------------------------------------------------------------------------------------------
# From a picture to MNIST


def to_mnist(image: Image.Image) -> Preprocessed:
    """Find the digit in `image` (any mode, any size) and redraw it the way MNIST was drawn."""
    if not isinstance(image, Image.Image):
        kind = type(image).__name__
        raise ImageError(f"to_mnist needs a PIL image, not an object of type {kind}.")
    image = _normalise_mode(_loaded(image))
    plane, matte, scale = _working_plane(image)
    ink = _find_ink(plane)
    if ink is None or _is_speck(ink, plane.shape[:2], scale):
        return _blank()
    long_side = max(ink.bbox[1] - ink.bbox[0], ink.bbox[3] - ink.bbox[2])
    if scale > 1 and long_side < REFINE_BELOW:
        ink = _refine(image, ink, scale, matte)
    canvas = _to_canvas(ink)
    tensor = torch.from_numpy(canvas).unsqueeze(0)
    preview = Image.fromarray((canvas * 255).round().astype(np.uint8))
    return Preprocessed(tensor, preview)


def _refine(image: Image.Image, ink: _Ink, scale: float, matte: np.ndarray | None) -> _Ink:
    """The digit re-read from a crop of the source at a higher resolution than the first pass.

    The first pass saw the whole picture and decided which pieces make up the digit; this pass
    only sharpens them. It keeps every piece within the first pass's box (at a finer resolution
    the gap to a detached stroke may outgrow the reach that joined it), and its result is used
    only if it still covers that box, so ink the first pass kept is never lost.
    """
    left, top, right, bottom = _around(ink.bbox, scale, image.size)
    plane, _, factor = _working_plane(image.crop((left, top, right, bottom)), matte)
    y0, y1, x0, x1 = ink.bbox
    # the first pass's box in the crop's working pixels
    box = ((y0 * scale - top) / factor, (y1 * scale - top) / factor,
           (x0 * scale - left) / factor, (x1 * scale - left) / factor)  # fmt: skip
    within = (math.floor(box[0]), math.ceil(box[1]), math.floor(box[2]), math.ceil(box[3]))
    refined = _find_ink(plane, within)
    if refined is None:
        return ink
    # the first pass's box carries up to 2 of its pixels of rim (`_dilate(kept, 2)` in
    # `_find_ink`) that a sharper pass need not repeat, and 1 more for rounding
    slack = 3 * scale / factor
    r0, r1, c0, c1 = refined.bbox
    covers = (r0 <= box[0] + slack and r1 >= box[1] - slack
              and c0 <= box[2] + slack and c1 >= box[3] - slack)  # fmt: skip
    return refined if covers else ink


def _blank() -> Preprocessed:
    return Preprocessed(None, Image.new("L", (CANVAS, CANVAS), 0))


def _working_plane(
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
    # RGBA is averaged first as stored, which skips premultiplying (a pass over the whole image
    # that costs more than the reduction) for opaque pictures such as every Sketchpad drawing.
    # Where every block's alpha still averages to 255, no block misses more than half a level of
    # alpha per pixel, so no colour is more than half a grey level from the premultiplied one.
    words = pixels.view("<u4")[:, :, 0]  # one pixel per word: red in the low byte, alpha high
    red = words & 0xFF
    if np.array_equal(words, red * 0x010101 | 0xFF000000):  # opaque grey: one pass tells
        return (red.astype(np.float32) / 255)[:, :, None], None, float(factor)
    if pixels[:, :, 3].min() == 255:
        return _colour(pixels), None, float(factor)
    # Otherwise premultiplied ("RGBa"), so that colours stored under transparent pixels cannot
    # bleed into the average.
    pixels = np.asarray(_reduce(image.convert("RGBa"), factor))
    return *_resolve_alpha(pixels, matte), float(factor)


def _reduce(image: Image.Image, factor: int) -> Image.Image:
    """Box averages of `factor` x `factor` pixels, of the values as stored.

    `Image.reduce` converts RGBA to premultiplied RGBa and back around the same core call.
    """
    if factor == 1:
        return image
    return image._new(image.im.reduce((factor, factor), (0, 0, *image.size)))


def _colour(pixels: np.ndarray) -> np.ndarray:
    """The colour channels of (H, W, 3 or 4) uint8 pixels as floats; one channel if grey."""
    colour = pixels[:, :, :3]
    red, green, blue = colour[:, :, 0], colour[:, :, 1], colour[:, :, 2]
    if np.array_equal(red, green) and np.array_equal(red, blue):
        colour = colour[:, :, :1]  # grey, perhaps on a transparent canvas: one channel will do
    return colour.astype(np.float32) / 255


def _resolve_alpha(
    pixels: np.ndarray, matte: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
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


@dataclass
class _Ink:
    soft: np.ndarray  # (H, W) float32 in [0, 1]: the kept ink, 0 elsewhere
    bbox: tuple[int, int, int, int]  # y0, y1, x0, x1 (end-exclusive) of `soft > 0`


def _find_ink(
    plane: np.ndarray, within: tuple[int, int, int, int] | None = None
) -> _Ink | None:
    """Separate the ink from the paper; None when there is no ink to speak of.

    `within` (y0, y1, x0, x1, end-exclusive) is where the digit is already known to be: every
    piece of ink reaching into it is part of the digit (see `_main_pieces`).
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
    level = _quantile(strength[strong], 0.9)  # full strength, as in MNIST's strokes
    soft = np.clip((strength - floor) / (level - floor), 0, 1)
    # hysteresis: pieces are traced through fainter ink, but must hold some confident ink
    kept = _main_pieces(strength > max(threshold / 2, 2 * floor), strong, soft, within)
    if not kept.any():
        return None
    soft *= _dilate(kept, 2)  # keep the anti-aliased rim of the kept strokes, nothing else
    rows, cols = np.flatnonzero(soft.any(axis=1)), np.flatnonzero(soft.any(axis=0))
    bbox = (int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)
    return _Ink(soft.astype(np.float32), bbox)


def _fit_background(plane: np.ndarray) -> tuple[np.ndarray, float]:
    """The paper as a smooth surface per channel, and the noise level around it.

    A perfectly uniform border that is also the colour of most pixels is a digital canvas: the
    paper is that colour. Otherwise the
    paper is read from block medians, which ignore strokes thinner than half a block: from a
    first guess, a quadratic is refitted to the blocks that agree with the last fit, so blocks
    full of ink (a marker stroke, even one crossing the edge) are left out while a lighting
    gradient or a vignette is followed. Two first guesses are tried, the median border block
    and the median of all blocks (a photo may show the table around the sheet), and the fit
    that more blocks agree with wins. The noise is the spread of pixels within paper blocks.
    Where neither guess is near any block (half the blocks ink, half paper, so that both medians
    fall between the two), the paper is the border's median and the noise is read from all blocks.
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


def _quantile(values: np.ndarray, q: float) -> float:
    """`np.quantile(values, q)` of a 1-D float array, to the bit (its default linear method),
    without the ~50 microseconds its general machinery costs on each call."""
    position = (values.size - 1) * q
    low = math.floor(position)
    high = min(low + 1, values.size - 1)
    part = np.partition(values, (low, high))
    below, above = part[low], part[high]
    gamma, step = position - low, above - below
    # numpy's interpolation, from whichever end is nearer, in the array's own precision
    return float(above - step * (1 - gamma) if gamma >= 0.5 else below + step * gamma)


def _main_pieces(
    weak: np.ndarray,
    strong: np.ndarray,
    soft: np.ndarray,
    within: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Mask of the ink pieces that make up the digit, found on a grid of at most CELLS a side.

    Pieces are connected parts of `weak` holding some `strong` ink. The heaviest is kept, then
    any piece close to what is kept, where "close" grows with the piece's weight: a speck must
    almost touch the digit, a piece half as heavy as the main one may lie a good way off (the
    detached bar of a 5, a 4 drawn in two strokes). With `within` (a pixel box, end-exclusive),
    the start is instead every such piece reaching into that box, the main one if none does.
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
    boxes = np.tile(np.array([gh, -1, gw, -1]), (count, 1))  # y0, y1, x0, x1, all inclusive
    np.minimum.at(boxes[:, 0], piece, ys)
    np.maximum.at(boxes[:, 1], piece, ys)
    np.minimum.at(boxes[:, 2], piece, xs)
    np.maximum.at(boxes[:, 3], piece, xs)
    # a piece along most of the image's edge is a frame (the table around a photographed sheet)
    rim = np.zeros((gh, gw), bool)
    rim[[0, -1]] = rim[:, [0, -1]] = True
    on_rim = np.bincount(piece[rim.ravel()[cells]], minlength=count)
    weight[on_rim > 0.6 * np.count_nonzero(rim)] = 0
    main = int(weight.argmax())
    if weight[main] <= 0:
        return np.zeros_like(weak)
    kept = np.zeros(count, bool)
    if within is not None:
        y0, y1, x0, x1 = within
        seed = np.array([y0 // cell, (y1 - 1) // cell, x0 // cell, (x1 - 1) // cell])
        kept = (weight > 0) & (_gaps(seed, boxes) < 0)
    if not kept.any():
        kept[main] = True
    box = np.array([boxes[kept, 0].min(), boxes[kept, 1].max(),
                    boxes[kept, 2].min(), boxes[kept, 3].max()])  # fmt: skip
    reach = np.where(weight > 0, 0.08 + 0.4 * np.minimum(weight / weight[main], 1), -np.inf)
    while True:
        join = ~kept & (_gaps(box, boxes) <= reach * (max(box[1] - box[0], box[3] - box[2]) + 1))
        if not join.any():
            break
        kept |= join
        box = np.array([boxes[kept, 0].min(), boxes[kept, 1].max(),
                        boxes[kept, 2].min(), boxes[kept, 3].max()])
    keep_cells = np.zeros(gh * gw, bool)
    keep_cells[cells] = kept[piece]
    grid = np.repeat(np.repeat(keep_cells.reshape(gh, gw), cell, axis=0), cell, axis=1)
    return weak & grid[:height, :width]


def _gaps(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Empty cells between an inclusive grid box and each of `boxes` (negative: they overlap)."""
    return np.maximum.reduce(
        [box[0] - boxes[:, 1], boxes[:, 0] - box[1], box[2] - boxes[:, 3], boxes[:, 2] - box[3]]
    ) - 1


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


def _dilate(array: np.ndarray, radius: int) -> np.ndarray:
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


def _is_speck(ink: _Ink, shape: tuple[int, int], scale: float) -> bool:
    """Ink too small to be a digit: a dot, a crumb, a sensor speck."""
    y0, y1, x0, x1 = ink.bbox
    long_side = max(y1 - y0, x1 - x0)
    return (
        long_side < MIN_DIGIT_FRACTION * max(shape)
        or long_side * scale < MIN_DIGIT_PIXELS
        or float(ink.soft.sum()) < MIN_INK_FRACTION * shape[0] * shape[1]
    )


def _around(
    bbox: tuple[int, int, int, int], scale: float, size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The source-image box around a working-image bbox, with half its long side as margin."""
    y0, y1, x0, x1 = bbox
    margin = max(y1 - y0, x1 - x0) / 2 + 2
    return (
        max(0, math.floor((x0 - margin) * scale)),
        max(0, math.floor((y0 - margin) * scale)),
        min(size[0], math.ceil((x1 + margin) * scale)),
        min(size[1], math.ceil((y1 + margin) * scale)),
    )


def _restroke(soft: np.ndarray, grow: float) -> np.ndarray:
    """Strokes widened (grow > 0) or thinned (grow < 0) by |grow| pixels on each side, cropped.

    Whole pixels come from grey dilation (of the ink, or of the paper to thin); the fraction
    blends in one more step, so the result changes smoothly with `grow`.
    """
    steps = math.floor(abs(grow))
    padded = np.pad(soft, steps + 1)
    if grow < 0:
        padded = 1 - padded
    inner = _dilate(padded, steps)
    out = inner + (abs(grow) - steps) * (_dilate(inner, 1) - inner)
    if grow < 0:
        out = 1 - out
    rows, cols = np.flatnonzero(out.any(axis=1)), np.flatnonzero(out.any(axis=0))
    return out[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] if rows.size else soft


def _to_canvas(ink: _Ink) -> np.ndarray:
    """Fit the ink into the 20x20 box, bringing strokes to MNIST's width, and centre it."""
    y0, y1, x0, x1 = ink.bbox
    soft = ink.soft[y0:y1, x0:x1]
    scale = BOX / max(y1 - y0, x1 - x0)
    if scale < 1:  # shrinking: bring the strokes to MNIST's range of widths first
        core = np.pad(soft > 0.5, 1)  # stroke width = 2 * ink / edge length, as measured on MNIST
        edges = np.count_nonzero(np.diff(core, axis=0)) + np.count_nonzero(np.diff(core, axis=1))
        stroke = 2 * float(soft.sum()) / max(edges, 1)
        goal = min(max(stroke * scale, THIN_STROKE), THICK_STROKE)
        if goal != stroke * scale:
            soft = _restroke(soft, (goal / scale - stroke) / 2)
            scale = BOX / max(soft.shape)
    height, width = soft.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(np.ascontiguousarray(soft)).resize(size, Image.Resampling.HAMMING)
    patch = np.clip(np.asarray(resized, dtype=np.float32), 0, 1)
    inked = patch[patch > 0.05]
    if inked.size:
        patch = np.clip(patch / max(_quantile(inked, 0.9), 0.05), 0, 1)
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    total = float(patch.sum())
    if total <= 0:
        return canvas
    rows, cols = np.arange(size[1], dtype=np.float32), np.arange(size[0], dtype=np.float32)
    cy, cx = float(patch.sum(axis=1) @ rows) / total, float(patch.sum(axis=0) @ cols) / total
    top = min(max(round(CANVAS / 2 - cy), 0), CANVAS - size[1])
    left = min(max(round(CANVAS / 2 - cx), 0), CANVAS - size[0])
    canvas[top : top + size[1], left : left + size[0]] = patch
    return canvas
