"""A drawing sent as its strokes, the points a pen passed through, drawn into a picture.

The app's pad (`mnist_model.pad`) sends what the pen did, not pixels: a few hundred bytes per
stroke instead of full-canvas PNGs, so the answer can follow the pen. An assistant (MCP) or a
script can write a digit the same way. The server draws the strokes here, black ink on white at
the width of the Sketchpad's default brush relative to the canvas, and the picture then goes
through the same preprocessing as every drawing and upload (`mnist_model.predict`).

The value, as JSON text or the parsed object:

    {"width": 900, "height": 450, "strokes": [[[x, y], [x, y], ...], ...]}

pad coordinates, x right and y down from the top left corner; a stroke of one point is a dot.
Anything else is refused with one `StrokesError` sentence that says what is wrong and where.
"""

from __future__ import annotations

import json
import math
from typing import Any

from PIL import Image, ImageDraw

# The Sketchpad's default brush, 50 px wide on its 900x450 canvas: a width of the pad's width / 18.
BRUSH_SHARE = 50 / 900
MAX_SIDE = 4096  # pad sides accepted, in pad units
MAX_POINTS = 50_000  # all strokes together
MAX_STROKES = 1_000
MAX_TEXT = 2 * 1024 * 1024  # characters of JSON text
FORMAT_HELP = 'Send {"width": W, "height": H, "strokes": [[[x, y], ...], ...]} in pad coordinates.'

Point = tuple[float, float]


class StrokesError(ValueError):
    """The strokes value is unusable; the message is one clear sentence for the caller."""


def parse_strokes(value: str | dict | None) -> tuple[int, int, list[list[Point]]] | None:
    """The pad's size and its strokes from JSON text or its parsed object; None for nothing sent
    (None, "" or only whitespace). Raises `StrokesError` for anything else that is not a drawing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise StrokesError(f"The strokes' JSON is longer than {MAX_TEXT:,} characters.")
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise StrokesError(f"The strokes are not valid JSON ({error.msg} at character {error.pos}). "
                               f"{FORMAT_HELP}") from None
    if not isinstance(value, dict):
        raise StrokesError(f"The strokes must be a JSON object, not {_kind(value)}. {FORMAT_HELP}")
    missing = [key for key in ("width", "height", "strokes") if key not in value]
    if missing:
        raise StrokesError(f"The strokes' object has no {' or '.join(map(repr, missing))}. {FORMAT_HELP}")
    width, height = (_side(value, key) for key in ("width", "height"))
    strokes = value["strokes"]
    if not isinstance(strokes, list):
        raise StrokesError(f"'strokes' must be a list of strokes, not {_kind(strokes)}. {FORMAT_HELP}")
    if len(strokes) > MAX_STROKES:
        raise StrokesError(f"There are {len(strokes):,} strokes; at most {MAX_STROKES:,} are accepted.")
    parsed = [_stroke(stroke, i) for i, stroke in enumerate(strokes)]
    total = sum(map(len, parsed))
    if total > MAX_POINTS:
        raise StrokesError(f"The strokes hold {total:,} points; at most {MAX_POINTS:,} are accepted.")
    return width, height, parsed


def render_strokes(width: int, height: int, strokes: list[list[Point]]) -> Image.Image:
    """The strokes drawn black on a white `width` x `height` picture (mode "L"), with round ends
    and joints, `BRUSH_SHARE` of the width wide: the picture the Sketchpad would have sent."""
    picture = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(picture)
    brush = max(1, round(width * BRUSH_SHARE))
    radius = brush / 2
    for stroke in strokes:
        for x, y in stroke:  # round ends and joints; Pillow's own "curve" joint leaves gaps
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
        if len(stroke) > 1:
            draw.line(stroke, fill=0, width=brush)
    return picture


def strokes_picture(value: str | dict | None) -> Image.Image | None:
    """The picture of a strokes value (`parse_strokes`, `render_strokes`); None when nothing was
    sent or no stroke was drawn, as a blank Sketchpad is."""
    parsed = parse_strokes(value)
    if parsed is None or not any(parsed[2]):
        return None
    return render_strokes(*parsed)


def _side(value: dict, key: str) -> int:
    side = value[key]
    if isinstance(side, bool) or not isinstance(side, (int, float)) or not math.isfinite(side) or side != int(side):
        raise StrokesError(f"'{key}' must be a whole number of pad units, not {json.dumps(side)[:40]}.")
    if not 1 <= side <= MAX_SIDE:
        raise StrokesError(f"'{key}' must be from 1 to {MAX_SIDE}, not {int(side)}.")
    return int(side)


def _stroke(stroke: Any, index: int) -> list[Point]:
    if not isinstance(stroke, list):
        raise StrokesError(f"Stroke {index} must be a list of [x, y] points, not {_kind(stroke)}. {FORMAT_HELP}")
    points = []
    for j, point in enumerate(stroke):
        if (not isinstance(point, list) or len(point) != 2
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c)
                           for c in point)):
            shown = json.dumps(point)[:40]
            raise StrokesError(f"Point {j} of stroke {index} must be [x, y], two finite numbers, not {shown}.")
        points.append((float(point[0]), float(point[1])))
    return points


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true or false", type(None): "null"}.get(
        type(value), "a number")
