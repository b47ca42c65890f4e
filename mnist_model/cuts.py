"""Where digits that touch may be cut apart: candidate cuts through a group of ink, and the pieces between.

Digits written close together share ink where they meet: a loop against the next stem, a tail
under the next digit, a crossbar run into it, two strokes overlapping. No rule of thumb tells
where one digit ends, so this module does not decide. It offers candidate cuts, each a path
from the group's top to its bottom through as little ink as it can find near a column where the
ink is thin, and the pieces of ink between any two cuts that could be one digit (as wide and as
tall as a digit on the line may be). The recogniser scores every piece, and the best reading
of the whole group chooses among them (`mnist_model.number`).

    found = lattice(group, line_height)       # group: a `Digit` from `mnist_model.line.find_line`
    found.pieces[(0, 2)]                      # the ink from the left edge to the second cut
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ink import Digit

MIN_WIDTH = 0.1  # a piece spans at least this much of the line's height across (a "1" does) ...
MAX_WIDTH = 1.3  # ... and at most this much
MIN_HEIGHT = 0.5  # a piece's ink is at least this tall (of the line's height): a digit, not a spur
STEP = 0.12  # a candidate cut at least every this much of the line's height ...
SPACING = 0.06  # ... and no two closer than this
DRIFT = 0.15  # a cut's path strays at most this far (of the line's height) from its column
MAX_CUTS = 40  # candidates a group may have (a long number written as one stroke)


@dataclass(frozen=True)
class Lattice:
    """Candidate cuts through a group of ink and the pieces between them.

    Cuts are numbered left to right, 0 for the group's left edge and `cuts - 1` for its right
    edge; a path through the lattice from 0 to `cuts - 1` is one way of reading the group.
    """

    cuts: int
    pieces: dict[tuple[int, int], Digit]  # (i, j), i < j: the ink between cuts i and j


def lattice(group: Digit, line: float) -> Lattice:
    """The candidate cuts through `group`'s ink and the pieces between them that could be a digit.

    `line` is the height of a digit on the line, in the pixels of the group's plane. The whole
    group (edge to edge) is a piece only if it is no wider than a digit.
    """
    box = group.ink.box
    window = group.ink.soft[box.slices]
    height, width = window.shape
    paths = _paths(window, _columns(window, line), line)
    bounds = np.vstack([np.zeros((1, height), np.int64), paths, np.full((1, height), width)])
    columns = np.arange(width)
    inked = window > 0.5
    pieces = {}
    for i in range(len(bounds) - 1):
        for j in range(i + 1, len(bounds)):
            across = np.median(bounds[j]) - np.median(bounds[i])
            if across > MAX_WIDTH * line:
                break
            if across < MIN_WIDTH * line:
                continue
            keep = (columns >= bounds[i][:, None]) & (columns < bounds[j][:, None])
            rows = np.flatnonzero((inked & keep).any(axis=1))
            if not rows.size or rows[-1] + 1 - rows[0] < MIN_HEIGHT * line:
                continue
            soft = np.zeros_like(group.ink.soft)
            soft[box.slices] = np.where(keep, window, 0)
            pieces[(i, j)] = group.part(soft)
    return Lattice(len(bounds), pieces)


def _columns(window: np.ndarray, line: float) -> np.ndarray:
    """Where cuts may start: the columns of least ink, and enough others that no stretch of the
    group wider than `STEP` has none, at least `SPACING` apart, least ink first chosen."""
    height, width = window.shape
    margin = max(1, round(MIN_WIDTH * line))
    if width <= 2 * margin:
        return np.zeros(0, np.int64)
    profile = np.convolve(window.sum(axis=0), np.ones(3) / 3, mode="same")
    inner = np.arange(margin, width - margin)
    minima = inner[(profile[inner] <= profile[inner - 1]) & (profile[inner] <= profile[inner + 1])]
    grid = np.round(np.arange(margin, width - margin, max(1.0, STEP * line))).astype(np.int64)
    offered = np.unique(np.concatenate([minima, grid]))
    chosen: list[int] = []
    for column in offered[np.argsort(profile[offered], kind="stable")]:
        if all(abs(column - other) >= SPACING * line for other in chosen):
            chosen.append(int(column))
        if len(chosen) == MAX_CUTS:
            break
    return np.sort(np.array(chosen, np.int64))


def _paths(window: np.ndarray, starts: np.ndarray, line: float) -> np.ndarray:
    """For each start column, the cheapest path from the top row to the bottom (one column per
    row, moving at most one column a row, no farther than `DRIFT` from its start), through the
    least ink: (len(starts), rows), the column each path crosses each row at."""
    height, width = window.shape
    if not starts.size:
        return np.zeros((0, height), np.int64)
    reach = max(1, round(DRIFT * line))
    offsets = np.arange(-reach, reach + 1)
    columns = np.clip(starts[:, None] + offsets, 0, width - 1)  # (paths, band)
    stray = 0.02 * np.abs(offsets) / reach  # a little cost for straying, so that blank paper is cut straight
    total = window[0][columns] + stray
    back = np.zeros((height, *columns.shape), np.int8)
    big = np.float32(1e9)
    for row in range(1, height):
        left = np.concatenate([np.full((len(starts), 1), big), total[:, :-1]], axis=1)
        right = np.concatenate([total[:, 1:], np.full((len(starts), 1), big)], axis=1)
        options = np.stack([left, total, right])  # came from the column left, same, right
        step = options.argmin(axis=0)
        back[row] = step - 1
        total = np.take_along_axis(options, step[None], axis=0)[0] + window[row][columns] + stray
    place = total.argmin(axis=1)
    paths = np.zeros((len(starts), height), np.int64)
    for row in range(height - 1, -1, -1):
        paths[:, row] = columns[np.arange(len(starts)), place]
        place = place + back[row][np.arange(len(starts)), place]
    return paths
