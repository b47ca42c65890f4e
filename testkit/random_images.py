"""Random images of every PIL mode and content, for the property tests and the equivalence check.

Each image follows from its arguments alone (size, mode, content, seed), so a test or a record of
the preprocessing's outputs can make the very same inputs again.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

MODES = ("1", "L", "LA", "P", "P-transparent", "RGB", "RGBA", "CMYK", "I;16", "I", "F")
CONTENTS = ("noise", "constant", "strokes")


def make_image(size: tuple[int, int], mode: str, content: str, seed: int) -> Image.Image:
    """An image of `size` in `mode` ("P-transparent": a palette image with a transparent index)."""
    rng = np.random.default_rng(seed)
    width, height = size
    if content == "noise":
        values = rng.random((height, width))
    elif content == "constant":
        values = np.full((height, width), rng.random())
    else:  # a few strokes of random width, in random greys, on a random paper
        paper = Image.new("L", size, int(rng.integers(256)))
        pen = ImageDraw.Draw(paper)
        for _ in range(int(rng.integers(1, 6))):
            points = [tuple(point) for point in rng.random((int(rng.integers(2, 6)), 2)) * size]
            pen.line(points, fill=int(rng.integers(256)), width=int(rng.integers(1, 40)))
        values = np.asarray(paper) / 255
    grey = (values * 255).astype(np.uint8)
    channels = np.stack([grey, *(rng.permutation(grey.ravel()).reshape(grey.shape) for _ in range(3))], axis=2)
    if mode == "1":
        return Image.fromarray(grey > 127)
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        count = len(mode) if mode != "CMYK" else 4
        data = grey if count == 1 else np.ascontiguousarray(channels[:, :, :count])
        return Image.frombytes(mode, size, data.tobytes())
    if mode.startswith("P"):
        image = Image.frombytes("P", size, grey.tobytes())
        image.putpalette(rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
        if mode == "P-transparent":
            image.info["transparency"] = int(rng.integers(256))
        return image
    if mode == "I;16":
        return Image.fromarray((values * 65535).astype(np.uint16))
    if mode == "I":
        return Image.fromarray((values * rng.integers(1, 2**31) - 2**30).astype(np.int32))
    floats = (values * 10.0 ** rng.integers(-3, 6)).astype(np.float32)
    floats.ravel()[rng.integers(0, floats.size, 3)] = rng.choice([np.nan, np.inf, -np.inf], 3)
    return Image.fromarray(floats)
