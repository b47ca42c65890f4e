"""Digits and letters as a person writes them with a pen: strokes of points, for the pad.

The browser tests and `benchmarks.browser_latency` draw these on the page's pad, and the API
tests send them as `/predict_strokes` values, so every path is judged on the same handwriting.
Each shape is a list of strokes, each stroke a list of (x, y) in a unit box (x right, y down),
written about 0.6 as wide as tall; `place` puts a shape anywhere on a pad, at any size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Stroke = list[tuple[float, float]]


def _loop(points: int, x: Callable[[float], float], y: Callable[[float], float]) -> Stroke:
    return [(x(2 * math.pi * i / points), y(2 * math.pi * i / points)) for i in range(points + 1)]


DIGITS: dict[str, list[Stroke]] = {
    "0": [_loop(24, lambda t: 0.5 + 0.32 * math.sin(t), lambda t: 0.5 - 0.45 * math.cos(t))],
    "1": [[(0.5, 0.05), (0.5, 0.95)]],
    "2": [[(0.2, 0.3), (0.3, 0.1), (0.5, 0.03), (0.7, 0.1), (0.78, 0.28), (0.7, 0.48), (0.2, 0.95), (0.82, 0.95)]],
    "3": [[(0.2, 0.1), (0.5, 0.02), (0.75, 0.15), (0.72, 0.35), (0.45, 0.48), (0.75, 0.6), (0.8, 0.8),
           (0.55, 0.97), (0.2, 0.9)]],
    "4": [[(0.6, 0.05), (0.15, 0.65), (0.85, 0.65)], [(0.62, 0.3), (0.62, 0.97)]],
    "5": [[(0.75, 0.05), (0.3, 0.05), (0.25, 0.45), (0.55, 0.4), (0.78, 0.55), (0.78, 0.8), (0.55, 0.96),
           (0.2, 0.9)]],
    "6": [[(0.7, 0.05), (0.4, 0.25), (0.25, 0.55), (0.3, 0.85), (0.5, 0.96), (0.72, 0.85), (0.75, 0.65),
           (0.55, 0.52), (0.3, 0.6)]],
    "7": [[(0.15, 0.05), (0.85, 0.05), (0.4, 0.97)]],
    "8": [_loop(32, lambda t: 0.5 + 0.3 * math.sin(2 * t), lambda t: 0.5 - 0.45 * math.cos(t))],
    "9": [[(0.75, 0.3), (0.6, 0.08), (0.35, 0.08), (0.22, 0.3), (0.35, 0.48), (0.6, 0.45), (0.75, 0.3),
           (0.72, 0.97)]],
}
LETTERS: dict[str, list[Stroke]] = {
    "X": [[(0.15, 0.05), (0.85, 0.95)], [(0.85, 0.05), (0.15, 0.95)]],
    "A": [[(0.1, 0.95), (0.5, 0.05), (0.9, 0.95)], [(0.28, 0.6), (0.72, 0.6)]],
}


def place(shape: list[Stroke], left: float, top: float, height: float) -> list[Stroke]:
    """`shape` written `height` tall (0.6 of it wide) with its box's top left corner at (left, top)."""
    return [[(left + x * 0.6 * height, top + y * height) for x, y in stroke] for stroke in shape]


def dense(stroke: Stroke, step: float) -> Stroke:
    """The stroke's points with others between them, at most `step` apart, as a pointer moving
    along it reports them."""
    points = [stroke[0]]
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
        steps = max(1, math.ceil(math.dist((x0, y0), (x1, y1)) / step))
        points += [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)]
    return points
