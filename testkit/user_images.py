"""MNIST test digits turned into images as users really send them to a digit app.

Why this exists: MNIST digits are 20x20 white-on-black blobs, centred by their centre of mass in
a 28x28 frame, with anti-aliased strokes about 2-3 px wide. Nothing a user sends looks like that.
A Gradio Sketchpad returns an 800x800 white canvas with black ink anywhere on it, at any size,
or a dict whose ink lives only in the alpha channel of a transparent layer; uploads are
transparent PNGs, coloured or hair-thin or marker-thick pens, white-on-black screenshots, and
phone photos of paper (grey, unevenly lit, rotated, noisy, JPEG-compressed, sometimes stored
sideways with an EXIF orientation tag). Published MNIST demos score ~99% on MNIST and 18-40% on
such input because they only resize the canvas. The accuracy benchmark
(`python -m benchmarks.user_accuracy`) and `tests/test_user_images.py` measure the app's
preprocessing on these images instead.

Each image is made from one MNIST *test* digit, so the label is known and the model never saw
it. The generator is deterministic for a given `numpy.random.Generator` state. Every kind is a
plausible, realistic input, not an adversarial one: a person looking at it reads the digit
at once.

    rng = np.random.default_rng(0)
    image = make_user_image(digit_uint8_28x28, "photo", rng)   # PIL image, or a dict for sketch_layer

`encode` turns any image into a file's bytes: what the tests, the hostile corpus and the load
benchmark upload.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

KINDS: tuple[str, ...] = (
    "sketch_composite",  # Sketchpad composite: 800x800 opaque white, black ink, any place and size
    "sketch_layer",  # Sketchpad dict: the ink only in a transparent layer stored as (0, 0, 0, 0)
    "default_brush",  # Sketchpad with Gradio's default brush (radius 1/50 of the canvas): fixed-width strokes
    "transparent_png",  # uploaded RGBA PNG, dark ink, transparent background stored as black
    "coloured_pen",  # red / blue / green / purple ink on white
    "thin_pen",  # 1-3 px strokes on an 800x800 canvas
    "thick_marker",  # felt marker: strokes 14-20% of the digit's height
    "white_on_black",  # white ink on black (dark-mode canvas, screenshot), any size and place
    "off_centre_small",  # small digit near an edge of the canvas, plus a stray speck or two
    "photo",  # phone photo of paper: lighting, rotation, noise, blur, JPEG
    "photo_exif_rotated",  # the same, stored sideways with an EXIF orientation tag as phones do
)

SKETCH_CANVAS = 800  # gr.Sketchpad / gr.ImageEditor default canvas_size is (800, 800)
_UPSAMPLE = 4  # working resolution of the ink shape, in multiples of the MNIST pixel grid
_SKELETON_LEVEL = 140  # ink level (of 255) of the 4x digit whose centre line a pen follows
_PEN_COLOURS: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    "red": ((195, 235), (15, 55), (15, 55)),
    "blue": ((15, 50), (45, 95), (185, 235)),
    "green": ((15, 55), (130, 170), (35, 75)),
    "purple": ((105, 150), (25, 60), (150, 205)),
}


def make_user_image(digit: np.ndarray, kind: str, rng: np.random.Generator) -> Image.Image | dict[str, Any]:
    """One MNIST digit (28x28 uint8, white on black) as a user would send it, for `kind` in KINDS.

    Returns a PIL image, or for "sketch_layer" the dict a Gradio Sketchpad hands to its callback:
    {"background": white RGBA or None, "layers": [RGBA], "composite": None}.
    """
    digit = np.asarray(digit)
    if digit.shape != (28, 28) or digit.dtype != np.uint8:
        raise ValueError(f"expected a 28x28 uint8 MNIST digit, got {digit.shape} {digit.dtype}")
    try:
        maker = _MAKERS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}") from None
    return maker(digit, rng)


def encode(image: Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    """`image` as the bytes of a `fmt` file (Pillow's format name; `options` go to its encoder)."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _as_file(image: Image.Image, fmt: str, **options: Any) -> Image.Image:
    """`image` saved as a `fmt` file and opened again: what an upload of it decodes to."""
    reopened = Image.open(io.BytesIO(encode(image, fmt, **options)))
    reopened.load()
    return reopened


# ---------------------------------------------------------------------------------------------
# Ink shapes: float alpha maps in [0, 1], the size of the digit's box on the target canvas


def _crop(digit: np.ndarray, pad: int = 2) -> tuple[np.ndarray, int]:
    """The digit's bounding box with `pad` MNIST pixels of margin, its strokes brought to full
    strength, and the ink height in pixels."""
    rows = np.flatnonzero(digit.max(axis=1) > 0)
    cols = np.flatnonzero(digit.max(axis=0) > 0)
    if len(rows) == 0:  # an empty digit: keep the frame
        return digit, 28
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
    # full strength: some MNIST writers' strokes stay at half grey in places (a dry pen, a light
    # touch); a user's pen or brush never does. Each stroke is scaled up to its local peak.
    peak = np.asarray(Image.fromarray(crop.astype(np.uint8)).filter(ImageFilter.MaxFilter(5)), np.float32)
    crop = np.clip(crop * (255.0 / np.maximum(peak, 64.0)), 0, 255).astype(np.uint8)
    return np.pad(crop, pad), int(rows[-1] - rows[0] + 1)


def _smooth_ink(digit: np.ndarray, ink_height: float, level: float) -> np.ndarray:
    """The digit upsampled smoothly to `ink_height` px and thresholded at `level` into a pen stroke.

    LANCZOS to 4x, a slight blur there (so that the outline is not lumpy with the 28x28 grid),
    bicubic to the target size, then a narrow ramp around `level` that leaves ~1.5 px of
    anti-aliasing at the stroke's edge, as a canvas brush does.
    """
    crop, ink_h = _crop(digit, pad=2)
    h, w = crop.shape
    hi = Image.fromarray(crop).resize((w * _UPSAMPLE, h * _UPSAMPLE), Image.Resampling.LANCZOS)
    hi = hi.filter(ImageFilter.GaussianBlur(0.3 * _UPSAMPLE))
    scale = ink_height / ink_h
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    big = np.asarray(hi.resize(size, Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    # grey rises from 0 to 1 over about one MNIST pixel, i.e. `scale` output px: a ramp of width
    # 1.5 / scale in grey makes an edge ~1.5 output px wide
    softness = float(np.clip(1.5 / scale, 0.03, 0.25))
    return np.clip((big - level) / softness + 0.5, 0.0, 1.0)


def _skeleton(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean mask to 1-px-wide centre lines (vectorised)."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = img
            n = [  # P2..P9 clockwise from north
                p[:-2, 1:-1], p[:-2, 2:], p[1:-1, 2:], p[2:, 2:],
                p[2:, 1:-1], p[2:, :-2], p[1:-1, :-2], p[:-2, :-2],
            ]  # fmt: skip
            b = sum(x.astype(np.int32) for x in n)
            a = sum(((n[i] == 0) & (n[(i + 1) % 8] == 1)).astype(np.int32) for i in range(8))
            p2, p4, p6, p8 = n[0], n[2], n[4], n[6]
            if step == 0:
                c = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                c = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (p[1:-1, 1:-1] == 1) & (b >= 2) & (b <= 6) & (a == 1) & c
            if remove.any():
                img[1:-1, 1:-1][remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def _brush_ink(digit: np.ndarray, ink_height: float, width: float) -> np.ndarray:
    """The digit redrawn as a pen would: its centre line stroked with a round brush `width` px wide.

    The centre line comes from thinning the 4x-upsampled digit; its pixel graph is smoothed a
    little (so it is not a staircase once enlarged) and drawn with round joints, 2x supersampled
    for anti-aliased edges. A loop that MNIST's writer closed up entirely (a blotted 8)
    thins to a line: the few such digits may read differently once redrawn with a fine pen.
    """
    crop, ink_h = _crop(digit, pad=2)
    h, w = crop.shape
    hi = np.asarray(Image.fromarray(crop).resize((w * _UPSAMPLE, h * _UPSAMPLE), Image.Resampling.LANCZOS))
    skel = _skeleton(hi > _SKELETON_LEVEL)
    ys, xs = np.nonzero(skel)
    index = -np.ones(skel.shape, dtype=np.int64)
    index[ys, xs] = np.arange(len(ys))
    edges = []
    rows, cols = skel.shape
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):  # each neighbour pair once
        ty, tx = ys + dy, xs + dx
        ok = (ty < rows) & (tx >= 0) & (tx < cols)
        ok[ok] &= skel[ty[ok], tx[ok]]
        if dx != 0 and dy != 0:  # skip a diagonal step that two orthogonal steps already make
            beside = (tx >= 0) & (tx < cols) & skel[ys, np.clip(tx, 0, cols - 1)]
            below = (ty < rows) & skel[np.clip(ty, 0, rows - 1), xs]
            ok &= ~(beside | below)
        src = np.flatnonzero(ok)
        edges.append(np.stack([src, index[ty[src], tx[src]]], axis=1))
    pairs = np.concatenate(edges) if edges else np.zeros((0, 2), dtype=np.int64)
    pts = np.stack([xs, ys], axis=1).astype(np.float64) + 0.5
    degree = np.bincount(pairs.ravel(), minlength=len(pts)) if len(pairs) else np.zeros(len(pts))
    for _ in range(5):  # Laplacian smoothing; end points stay put
        acc = np.zeros_like(pts)
        np.add.at(acc, pairs[:, 0], pts[pairs[:, 1]])
        np.add.at(acc, pairs[:, 1], pts[pairs[:, 0]])
        inner = degree >= 2
        pts[inner] = 0.5 * pts[inner] + 0.5 * acc[inner] / degree[inner, None]
    ss = 2  # supersampling
    scale = ink_height / (ink_h * _UPSAMPLE) * ss
    margin = width * ss
    size = (int(w * _UPSAMPLE * scale + 2 * margin) + 1, int(h * _UPSAMPLE * scale + 2 * margin) + 1)
    canvas = Image.new("L", size, 0)
    draw = ImageDraw.Draw(canvas)
    xy = pts * scale + margin
    line_w = max(1, round(width * ss))
    for a, b in pairs:
        draw.line([tuple(xy[a]), tuple(xy[b])], fill=255, width=line_w)
    if line_w > 2:
        r = line_w / 2
        for x, y in xy:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    if len(pairs) == 0:  # a lone dot
        for x, y in xy:
            draw.ellipse([x - line_w, y - line_w, x + line_w, y + line_w], fill=255)
    small = canvas.resize((size[0] // ss, size[1] // ss), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _place(alpha: np.ndarray, canvas_hw: tuple[int, int], rng: np.random.Generator, margin: int = 0) -> Image.Image:
    """`alpha` pasted at a uniformly random position on an empty "L" mask (clipped if too large)."""
    H, W = canvas_hw
    h, w = alpha.shape
    top, left = (_position(rng, free=size - extent, margin=margin) for size, extent in ((H, h), (W, w)))
    mask = Image.new("L", (W, H), 0)
    mask.paste(_to_mask(alpha), (left, top))
    return mask


def _position(rng: np.random.Generator, free: int, margin: int) -> int:
    """A random offset in [margin, free - margin], narrowed as needed; 0 when nothing is free."""
    if free <= 0:
        return 0
    low = min(margin, free // 2)
    return int(rng.integers(low, free - low + 1))


def _to_mask(alpha: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(alpha * 255), 0, 255).astype(np.uint8), "L")


def _ink_on(mask: Image.Image, paper: tuple[int, int, int], ink: tuple[int, int, int]) -> Image.Image:
    """Flat ink colour over a flat background colour, through the ink mask; RGB."""
    return Image.composite(Image.new("RGB", mask.size, ink), Image.new("RGB", mask.size, paper), mask)


def _pen_level(rng: np.random.Generator) -> float:
    """Where the pen's edge falls on MNIST's grey ramp: lower is bolder. Above ~0.5 the faint,
    scratchy strokes of some MNIST writers would break into dashes that no pen would leave."""
    return float(rng.uniform(0.3, 0.45))


def _sketch_size(rng: np.random.Generator, low: float = 0.20, high: float = 0.85) -> float:
    return float(rng.uniform(low, high)) * SKETCH_CANVAS


def _white_canvas(mask: Image.Image, rng: np.random.Generator, ink: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    """Ink on the Sketchpad's opaque white canvas, as RGBA (alpha 255 everywhere) or RGB."""
    rgb = _ink_on(mask, (255, 255, 255), ink)
    return rgb if rng.random() < 0.5 else rgb.convert("RGBA")


def _transparent_rgba(mask: Image.Image, ink: tuple[int, int, int]) -> Image.Image:
    """RGBA with the ink colour under the ink and (0, 0, 0, 0) everywhere else."""
    covered = mask.point(lambda v: 255 if v > 0 else 0)
    image = _ink_on(covered, (0, 0, 0), ink)
    image.putalpha(mask)
    return image


# ---------------------------------------------------------------------------------------------
# The kinds


def _sketch_composite(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    ink = _smooth_ink(digit, _sketch_size(rng), level=_pen_level(rng))
    return _white_canvas(_place(ink, (SKETCH_CANVAS, SKETCH_CANVAS), rng), rng)


def _sketch_layer(digit: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    ink = _smooth_ink(digit, _sketch_size(rng), level=_pen_level(rng))
    layer = _transparent_rgba(_place(ink, (SKETCH_CANVAS, SKETCH_CANVAS), rng), (0, 0, 0))
    background = (
        Image.new("RGBA", (SKETCH_CANVAS, SKETCH_CANVAS), (255, 255, 255, 255)) if rng.random() < 0.5 else None
    )
    return {"background": background, "layers": [layer], "composite": None}


def _default_brush(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    # gr.Brush(default_size="auto"): radius ~1/50 of the canvas' smaller side, 16 px on 800x800
    width = 2 * SKETCH_CANVAS / 50 * float(rng.uniform(0.9, 1.1))
    ink = _brush_ink(digit, _sketch_size(rng, 0.35, 0.85), width)
    return _white_canvas(_place(ink, (SKETCH_CANVAS, SKETCH_CANVAS), rng), rng)


def _transparent_png(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    H, W = (int(v) for v in rng.integers(200, 1001, size=2))
    ink_h = float(rng.uniform(0.35, 0.9)) * H
    level = _pen_level(rng)
    ink = _smooth_ink(digit, ink_h, level)
    if ink.shape[1] > W:  # a wide digit on a narrow image: shrink it to fit
        ink = _smooth_ink(digit, ink_h * W / ink.shape[1] * 0.95, level)
    grey = int(rng.integers(0, 61))
    colour = tuple(int(v) for v in np.clip(grey + rng.integers(-10, 11, size=3), 0, 255))
    image = _transparent_rgba(_place(ink, (H, W), rng), colour)  # type: ignore[arg-type]
    return _as_file(image, "PNG", compress_level=1)


def _coloured_pen(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    name = list(_PEN_COLOURS)[int(rng.integers(len(_PEN_COLOURS)))]
    colour = tuple(int(rng.integers(lo, hi + 1)) for lo, hi in _PEN_COLOURS[name])
    ink = _smooth_ink(digit, _sketch_size(rng), level=_pen_level(rng))
    return _white_canvas(_place(ink, (SKETCH_CANVAS, SKETCH_CANVAS), rng), rng, ink=colour)  # type: ignore[arg-type]


def _thin_pen(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    width = float(rng.uniform(1.0, 3.0))
    ink = _brush_ink(digit, _sketch_size(rng, 0.25, 0.85), width)
    return _white_canvas(_place(ink, (SKETCH_CANVAS, SKETCH_CANVAS), rng), rng)


def _thick_marker(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    # a felt marker: a round tip 14-20% of the digit's height (MNIST's strokes: ~10-12%)
    height = _sketch_size(rng, 0.3, 0.85)
    ink = _brush_ink(digit, height, width=float(rng.uniform(0.14, 0.2)) * height)
    return _white_canvas(_place(ink, (SKETCH_CANVAS, SKETCH_CANVAS), rng), rng)


def _white_on_black(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    H, W = (int(v) for v in rng.integers(280, 1201, size=2))
    ink = _smooth_ink(digit, float(rng.uniform(0.15, 0.85)) * min(H, W), level=_pen_level(rng))
    mask = _place(ink, (H, W), rng)
    back, fore = int(rng.integers(0, 25)), int(rng.integers(215, 256))
    image = _ink_on(mask, (back, back, back), (fore, fore, fore))
    return image.convert("L") if rng.random() < 0.5 else image


def _off_centre_small(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    ink = _smooth_ink(digit, _sketch_size(rng, 0.10, 0.18), level=_pen_level(rng))
    h, w = ink.shape
    # near one of the edges: 4-25% of the canvas in from a side, anywhere along it
    side = int(rng.integers(4))
    near = int(rng.uniform(0.04, 0.25) * SKETCH_CANVAS)
    along = int(rng.uniform(0.04, 0.96) * SKETCH_CANVAS)
    top = [near, SKETCH_CANVAS - near - h, along - h // 2, along - h // 2][side]
    left = [along - w // 2, along - w // 2, near, SKETCH_CANVAS - near - w][side]
    top = int(np.clip(top, 0, SKETCH_CANVAS - h))
    left = int(np.clip(left, 0, SKETCH_CANVAS - w))
    mask = Image.new("L", (SKETCH_CANVAS, SKETCH_CANVAS), 0)
    mask.paste(_to_mask(ink), (left, top))
    draw = ImageDraw.Draw(mask)
    centre_y, centre_x = top + h / 2, left + w / 2
    for _ in range(int(rng.integers(1, 3))):  # a stray tap or two of the brush, away from the digit
        for _try in range(50):
            y, x = rng.uniform(0.05, 0.95, size=2) * SKETCH_CANVAS
            if np.hypot(y - centre_y, x - centre_x) > 0.2 * SKETCH_CANVAS + max(h, w) / 2:
                break
        r = float(rng.uniform(2.0, 6.0))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return _white_canvas(mask, rng)


def _photo_pixels(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A phone photo of the digit written on paper, before JPEG: RGB, 1000-3000 px sides."""
    long_side = int(rng.integers(1000, 3001))
    aspect = [4 / 3, 3 / 4, 1.0, 16 / 9, 9 / 16][int(rng.integers(5))]
    W, H = (long_side, round(long_side / aspect)) if aspect >= 1 else (round(long_side * aspect), long_side)
    work = min(1.0, 900 / max(W, H))  # compose at <= 900 px, enlarge at the end (phones are soft anyway)
    w, h = max(1, round(W * work)), max(1, round(H * work))

    # the ink: pencil (grey, grainy), blue ballpoint or black felt pen; rotated by up to 8 degrees
    pen = ["pencil", "ballpoint", "felt"][int(rng.integers(3))]
    ink_h = float(rng.uniform(0.25, 0.6)) * min(w, h)
    rotated = _to_mask(_smooth_ink(digit, ink_h, level=_pen_level(rng))).rotate(
        float(rng.uniform(-8, 8)), resample=Image.Resampling.BICUBIC, expand=True
    )
    mask = _place(np.asarray(rotated, dtype=np.float32) / 255.0, (h, w), rng, margin=int(0.08 * min(w, h)))
    return photograph(mask, pen, (W, H), rng)


def photograph(mask: Image.Image, pen: str, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """An ink mask (mode "L", composed at a working size) photographed on paper: the pen's ink
    ("pencil", "ballpoint" or "felt"), paper, light, shadow, noise; RGB at `size`, before JPEG."""
    w, h = mask.size
    W, H = size
    if pen == "pencil":
        ink = np.array([75.0, 75.0, 80.0]) + rng.uniform(-15, 25)
        grain = rng.uniform(0.65, 1.0, size=(h, w)).astype(np.float32) * float(rng.uniform(0.8, 0.95))
        mask = Image.fromarray((np.asarray(mask, dtype=np.float32) * grain).astype(np.uint8), "L")
    elif pen == "ballpoint":
        ink = np.array([rng.uniform(25, 50), rng.uniform(35, 65), rng.uniform(95, 140)])
        mask = mask.point(lambda v, k=float(rng.uniform(0.85, 1.0)): round(v * k))
    else:
        ink = np.full(3, rng.uniform(15, 40))
    mask = mask.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.4))))  # focus and hand shake

    # the paper and the light: white, cream or grey paper; a gradient, a vignette, maybe a shadow.
    # Light varies slowly, so it is computed on a coarse grid and enlarged.
    paper = [
        np.full(3, rng.uniform(225, 250)),
        np.array([rng.uniform(235, 250), rng.uniform(225, 240), rng.uniform(195, 215)]),
        np.full(3, rng.uniform(190, 220)),
    ][int(rng.integers(3))]
    gh, gw = max(2, h // 8), max(2, w // 8)
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    yy, xx = yy / (gh - 1) - 0.5, xx / (gw - 1) - 0.5
    theta = rng.uniform(0, 2 * np.pi)
    light = 1.0 - float(rng.uniform(0.0, 0.3)) * ((np.cos(theta) * xx + np.sin(theta) * yy) + 0.5)
    light *= 1.0 - float(rng.uniform(0.0, 0.35)) * (xx**2 + yy**2) * 2
    if rng.random() < 0.3:  # the phone's (or hand's) soft shadow across one part of the sheet
        phi = rng.uniform(0, 2 * np.pi)
        d = np.cos(phi) * xx + np.sin(phi) * yy - rng.uniform(0.2, 0.4)
        light *= 1.0 - float(rng.uniform(0.1, 0.25)) / (1 + np.exp(-d / 0.03))
    light *= float(rng.uniform(0.8, 1.05))  # exposure
    balance = rng.uniform(0.95, 1.05, size=3)  # white balance

    def lit(colour: np.ndarray) -> Image.Image:
        coarse = np.clip(light[..., None] * (colour * balance), 0, 255).astype(np.uint8)
        return Image.fromarray(coarse, "RGB").resize((w, h), Image.Resampling.BILINEAR)

    image = Image.composite(lit(ink), lit(paper), mask)
    noise = rng.standard_normal((h, w, 3), dtype=np.float32) * np.float32(rng.uniform(1.5, 5.0))
    noisy = np.asarray(image, dtype=np.float32) + noise
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    if (w, h) != (W, H):
        image = image.resize((W, H), Image.Resampling.BILINEAR)
    return image


def _jpeg(image: Image.Image, rng: np.random.Generator, exif: Image.Exif | None = None) -> Image.Image:
    options: dict[str, Any] = {"quality": int(rng.integers(60, 91))}
    if exif is not None:
        options["exif"] = exif.tobytes()
    return _as_file(image, "JPEG", **options)


def _photo(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    return _jpeg(_photo_pixels(digit, rng), rng)


# EXIF orientation -> how the stored pixels relate to the upright picture.
# ImageOps.exif_transpose applies ROTATE_270 for 6, ROTATE_90 for 8 and ROTATE_180 for 3;
# the stored pixels are the upright picture turned the other way.
_STORE_FOR_ORIENTATION = {
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
    3: Image.Transpose.ROTATE_180,
}


def _photo_exif_rotated(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    # a phone held upright stores landscape sensor pixels and tags them Orientation=6 (most common)
    orientation = [6, 6, 6, 8, 3][int(rng.integers(5))]
    upright = _photo_pixels(digit, rng)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _jpeg(upright.transpose(_STORE_FOR_ORIENTATION[orientation]), rng, exif)


_MAKERS = {
    "sketch_composite": _sketch_composite,
    "sketch_layer": _sketch_layer,
    "default_brush": _default_brush,
    "transparent_png": _transparent_png,
    "coloured_pen": _coloured_pen,
    "thin_pen": _thin_pen,
    "thick_marker": _thick_marker,
    "white_on_black": _white_on_black,
    "off_centre_small": _off_centre_small,
    "photo": _photo,
    "photo_exif_rotated": _photo_exif_rotated,
}
assert tuple(_MAKERS) == KINDS
