"""Decoding what a user sends into a PIL image of mode "L" or "RGBA", or one `ImageError`.

Anyone can send anything to a public demo, so every source (a file path, the bytes of a file, a
PIL image, a numpy array, a Gradio Sketchpad value) ends either as an image in one of two modes,
which is all the rest of the preprocessing handles, or as one `ImageError` whose message is a
sentence for the user: never another exception, a hang, or a decompression bomb decoded. Files
give their first frame, turned as their EXIF orientation says; large JPEGs are decoded at a
reduced scale, as the analysis needs far fewer pixels; most PNGs (every Sketchpad drawing) are
decoded by libspng (`mnist_model.png`), which reads them faster than Pillow.
"""

from __future__ import annotations

import io
import math
import os
from typing import Any, BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from . import png

MAX_PIXELS = 40_000_000  # images declaring more pixels are refused before they are decoded
# The formats people send. Left out on purpose: icons (ICO, ICNS), which decode an embedded image
# larger than their header declares, past MAX_PIXELS; JPEG 2000, seconds of CPU for a few KB;
# EPS, which runs Ghostscript; and PIL's many scientific and legacy formats.
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "AVIF", "BMP", "TIFF")  # "JPEG" reads phones' MPO too
DECODE_SIZE = 1024  # JPEGs are decoded at the smallest built-in scale that keeps this long side

ImageSource = str | os.PathLike | bytes | Image.Image | np.ndarray | dict


class ImageError(ValueError):
    """The input is not a usable image; the message is one clear sentence for the user."""


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


def as_loaded(image: Image.Image) -> Image.Image:
    """A PIL image handed to `to_mnist`: checked, decoded and in mode "L" or "RGBA", but not
    turned by its EXIF orientation (`load_image` turns it)."""
    if not isinstance(image, Image.Image):
        kind = type(image).__name__
        raise ImageError(f"to_mnist needs a PIL image, not an object of type {kind}.")
    return _normalise_mode(_loaded(image))


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
