"""Digits as other pens, papers, scanners and cameras make them, and photos of empty paper.

MNIST's digits were written with one kind of pen, scanned cleanly and redrawn at 28x28. People
send digits scanned at low resolution and enlarged, blurred, JPEG-compressed, in pencil, with
thick or broken strokes, on lit and textured paper; and they photograph empty paper, whose
shadows and fibres the ink finder may take for a stroke. This module makes both from any
28x28 MNIST digit (uint8, white on black), so that training (`mnist_model.training_data`)
learns them and the benchmarks judge them, always through the app's own preprocessing.

- `MEDIA`: what training renders MNIST's training digits through, one medium an image;
- `HELD_OUT_MEDIA`: never trained on (a binarised fax); the refusal's calibration and the
  benchmarks use it to see how the model meets a medium it has not seen;
- `PAPER_FLAWS`: what a photo of empty paper may hold (`empty_paper`); what the preprocessing
  finds ink in is taught as "not a digit".

    rng = np.random.default_rng(0)
    image = render(digit, "scan", rng)   # PIL "L" image, black ink on paper, any size
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

MEDIA = ("scan", "blur", "jpeg", "thick", "thin", "broken", "pencil", "paper", "elastic")
HELD_OUT_MEDIA = ("fax",)
PAPER_FLAWS = ("plain", "shadow", "fold", "fibre", "table_edge")
_SCALE = 4  # MNIST's 28x28 digit is enlarged this much before a medium works on it


def render(digit: np.ndarray, medium: str, rng: np.random.Generator) -> Image.Image:
    """The 28x28 white-on-black `digit` as `medium` in `MEDIA` or `HELD_OUT_MEDIA` delivers it:
    black ink on paper, as an "L" image."""
    if medium not in MEDIA + HELD_OUT_MEDIA:
        raise ValueError(f"unknown medium {medium!r}; choose one of: {', '.join(MEDIA + HELD_OUT_MEDIA)}")
    ink = Image.fromarray(digit).resize((28 * _SCALE, 28 * _SCALE), Image.Resampling.BICUBIC)
    ink = warp(ink, rng, strength=1.6 if medium == "elastic" else 0.5)
    if medium == "thick":
        ink = ink.filter(ImageFilter.MaxFilter(int(rng.choice([5, 7, 9]))))
    elif medium == "thin":
        ink = ink.filter(ImageFilter.MinFilter(int(rng.choice([3, 5]))))
    elif medium == "broken":
        gaps = _smooth_field(rng.normal(0, 1, (12, 12)), ink.size) > rng.uniform(0.4, 0.9)
        ink = Image.fromarray(np.where(gaps, 0, np.asarray(ink)).astype(np.uint8))
    strength = rng.uniform(0.35, 0.7) if medium == "pencil" else rng.uniform(0.75, 1.0)
    pixels = np.asarray(ink, np.float32) / 255 * strength
    if medium == "pencil":  # graphite: grainy, lighter where the paper's tooth shows through
        pixels *= np.clip(rng.normal(1, 0.35, pixels.shape), 0, 1.4)
    page = _paper(ink.size, rng, textured=medium == "paper") * (1 - np.clip(pixels, 0, 1))
    image = Image.fromarray(np.clip(page * 255, 0, 255).astype(np.uint8))
    if medium == "scan":
        return _low_resolution(image, rng)
    if medium == "blur":
        return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 6))))
    if medium == "jpeg":
        small = image.resize((int(rng.integers(28, 64)),) * 2, Image.Resampling.BILINEAR)
        return _jpeg(small, int(rng.integers(8, 35)))
    if medium == "fax":
        small = image.resize((int(rng.integers(14, 24)),) * 2, Image.Resampling.BOX)
        binary = small.point(lambda v: 255 if v > 150 else 0)
        speckled = np.where(rng.random(binary.size[::-1]) < 0.01, 0, np.asarray(binary)).astype(np.uint8)
        return Image.fromarray(speckled).resize(image.size, Image.Resampling.NEAREST)
    return image


def _low_resolution(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Scanned at a few pixels a side, stretched to fill them or not, with few grey levels,
    then enlarged smoothly: what old scanners and tiny thumbnails give."""
    side = int(rng.integers(7, 17))
    if rng.random() < 0.5:  # the digit's box stretched to fill the grid, as some datasets do
        box = Image.eval(image, lambda v: 255 - v).getbbox() or (0, 0, *image.size)
        image = image.crop(box)
    small = image.resize((side, side), Image.Resampling.BOX)
    levels = int(rng.integers(4, 18))
    small = small.point(lambda v: round(v / 255 * (levels - 1)) * 255 // (levels - 1))
    size = int(rng.integers(64, 200))
    resample = rng.choice([Image.Resampling.BICUBIC, Image.Resampling.BILINEAR, Image.Resampling.NEAREST])
    large = small.resize((size, size), resample)
    return large.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, size / side / 2))))


def _paper(size: tuple[int, int], rng: np.random.Generator, textured: bool) -> np.ndarray:
    """A sheet's brightness in [0, 1]: white, or lit unevenly with a smooth texture and grain."""
    width, height = size
    if not textured:
        return np.full((height, width), rng.uniform(0.9, 1.0), np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = rng.uniform(0.6, 0.95) + rng.uniform(-0.2, 0.2) * xs / width + rng.uniform(-0.2, 0.2) * ys / height
    grain = _smooth_field(rng.normal(0, 0.04, (24, 24)), size) + rng.normal(0, rng.uniform(0.01, 0.05), (height, width))
    return np.clip(light + grain, 0.2, 1).astype(np.float32)


def empty_paper(rng: np.random.Generator, flaw: str = "plain") -> Image.Image:
    """A phone photo of a blank sheet with one of `PAPER_FLAWS`: uneven light, grain, blur, JPEG."""
    width, height = int(rng.integers(480, 1200)), int(rng.integers(480, 1200))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    light = rng.uniform(140, 235) + rng.uniform(-45, 45) * xs / width + rng.uniform(-45, 45) * ys / height
    paper = light + rng.normal(0, rng.uniform(2, 14), (height, width))
    angle = rng.uniform(0, 2 * math.pi)
    across = (xs - width / 2) * math.cos(angle) + (ys - height / 2) * math.sin(angle)  # distance along a direction
    offset = rng.uniform(-0.35, 0.35) * min(width, height)
    if flaw == "shadow":  # a hand's or a phone's shadow: a soft edge across the page
        softness = rng.uniform(0.02, 0.15) * min(width, height)
        paper *= 1 - rng.uniform(0.15, 0.5) / (1 + np.exp(-(across - offset) / softness))
    elif flaw == "fold":  # a crease: a thin line, with the light changing across it
        line = np.exp(-(((across - offset) / rng.uniform(1, 4)) ** 2))
        paper *= 1 - rng.uniform(0.05, 0.25) * line - rng.uniform(0, 0.08) * (across > offset)
    elif flaw == "table_edge":  # the sheet ends: a darker table beyond its edge
        table = rng.uniform(20, 110) + rng.normal(0, 6, (height, width))
        paper = np.where(across > offset + rng.uniform(0.1, 0.3) * min(width, height), table, paper)
    elif flaw == "fibre":
        paper = _fibres(paper, rng)
    elif flaw != "plain":
        raise ValueError(f"unknown flaw {flaw!r}; choose one of: {', '.join(PAPER_FLAWS)}")
    tint = rng.uniform(0.9, 1.0, 3)
    pixels = np.clip(paper[..., None] * tint, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.5, 2))))
    return _jpeg(image, int(rng.integers(50, 92)))


def _fibres(paper: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A few short, faint, thin curls: hairs, threads and paper fibres."""
    height, width = paper.shape
    marks = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(marks)
    for _ in range(int(rng.integers(1, 4))):
        length = rng.uniform(0.02, 0.09) * max(width, height)
        start, heading = rng.uniform(0.1, 0.9, 2) * (width, height), rng.uniform(0, 2 * math.pi)
        turn = rng.normal(0, 0.08, 12).cumsum()
        steps = np.stack([np.cos(heading + turn), np.sin(heading + turn)], 1) * length / 12
        points = np.vstack([start, start + steps.cumsum(axis=0)])
        draw.line([tuple(p) for p in points.tolist()], fill=int(rng.integers(25, 90)), width=int(rng.integers(1, 4)))
    return paper * (1 - np.asarray(marks, np.float32) / 255)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(buffer)


def warp(ink: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    """Rotated, slanted, stretched and smoothly bent a little, as a hand or a camera would.

    Plain numpy (bilinear sampling): drawing runs beside training, whose threads a per-image
    torch call would contend with.
    """
    angle = math.radians(rng.uniform(-10, 10) * strength)
    shear = rng.uniform(-0.3, 0.3) * strength
    stretch = math.exp(rng.uniform(-0.2, 0.2) * strength)
    cos, sin = math.cos(angle), math.sin(angle)
    width, height = ink.size
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = (2 * u + 1) / width - 1, (2 * v + 1) / height - 1  # output pixels in [-1, 1]
    bends = [_smooth_field(rng.normal(0, 0.04 * strength, (4, 4)), (width, height)) for _ in range(2)]
    source_u = cos * stretch * u + (shear - sin) * v + bends[0]
    source_v = sin * u + cos / stretch * v + bends[1]
    pixels = np.asarray(ink, dtype=np.float32)
    x, y = ((source_u + 1) * width - 1) / 2, ((source_v + 1) * height - 1) / 2
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    out = np.zeros_like(pixels)
    for dx, dy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        xs, ys = x0 + dx, y0 + dy
        inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
        out[inside] += weight[inside] * pixels[ys[inside], xs[inside]]
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _smooth_field(control: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A small grid of random values, upsampled smoothly (bicubic) to `size` (width, height)."""
    field = Image.fromarray(control.astype(np.float32), mode="F").resize(size, Image.Resampling.BICUBIC)
    return np.asarray(field, dtype=np.float32)
