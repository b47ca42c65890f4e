"""Connected pieces of ink, found on a grid of cells coarse enough that labelling is cheap.

Which pieces make up a digit is decided elsewhere (`mnist_model.ink.digit_pieces` for one
digit, `mnist_model.line` for a line of them); this module only finds them, weighs them and
knows their boxes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CELLS = 64  # longest side of the grid on which connected pieces of ink are found


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


def find_pieces(weak: np.ndarray, strong: np.ndarray, soft: np.ndarray, cells: int = CELLS) -> Pieces:
    """The connected parts of `weak`, found on a grid of at most `cells` a side, weighed by `soft`.

    A piece holding no `strong` ink weighs nothing, and so does a piece along most of the
    image's edge: a frame, such as the table around a photographed sheet.
    """
    height, width = weak.shape
    cell = max(1, math.ceil(max(height, width) / cells))
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



def union(boxes: np.ndarray) -> np.ndarray:
    """The box around (count, 4) boxes, all left, top, right, bottom."""
    return np.array([boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()])


def gaps(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
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

