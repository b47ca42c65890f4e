"""A line of writing (a year, a price, a phone number) split into groups of ink, left to right.

`find_line` takes the first steps `mnist_model.ink` takes for one digit (the working plane,
the ink told apart from the paper), then groups the ink: the pieces of one digit (a 4 in two
strokes, a crossbar, a dotted stroke) come together, specks, dots and dashes are left out, and
each group comes out as the same `Digit` that the MNIST recipe takes. Digits whose ink touches
stay one group here: where to cut them is the recogniser's choice (`mnist_model.number`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .ink import Box, Digit, Ink, covers, is_speck, one_digit, source_box
from .paper import Separated, dilate, separate, working_plane
from .pieces import union

REREAD_BELOW = 20  # a digit of a number shorter than this (working pixels) in a shrunk image is re-read,
# where the plane holds less than MNIST's 20x20 box
STACK_GAP = 1.0  # pieces overlapping across half the narrower one's width, no farther apart than
# this much of the smaller one's long side, are strokes of one digit (a two-stroke 4, the bar of a
# 5, a crossbar, an 8 of two rings, a dotted upright)
MINOR = 0.6  # a part less tall than this (of the line's height) is no digit by itself: it belongs
MINOR_REACH = 0.2  # to the nearest ink within this (of the line's height), or else is no digit at all
ABUT = 0.05  # parts whose boxes come closer than this (of the line's height) are one digit when ...
ABUT_WIDTH = 0.9  # ... no wider together than this: a 4 whose bar stops short of its upright
MAX_PIECES = 96  # only the heaviest pieces are grouped: a line of digits has far fewer, noise more


@dataclass(frozen=True)
class Line:
    """The groups of ink on a line of writing, left to right, and the line's height."""

    groups: list[Digit]  # each one digit, or digits whose ink touches (`mnist_model.cuts` splits them)
    height: float  # the height of a digit on this line, in the source image's pixels


def find_line(image: Image.Image) -> Line:
    """The groups of ink written in an "L" or "RGBA" image, left to right; none when there are none.

    The ink is separated from the paper as for one digit and split into connected pieces at the
    working plane's own resolution, where a gap of one pixel still tells two digits apart. Pieces
    are grouped into digits (`_group_pieces`); a group may still hold digits that touch, which
    the recogniser cuts apart (`mnist_model.number`). A group that is small in a large picture
    is re-read at a higher resolution (`_reread`), as `find_ink` re-reads one digit. Where all
    this leaves one group or none, the group is `find_ink`'s digit, to the bit: a single digit
    is read exactly as it always is.
    """
    plane, matte, scale = working_plane(image)
    separated = separate(plane)
    if separated is None:
        return Line([], 0.0)
    parts, line = _split(separated, scale)
    if len(parts) <= 1:
        found = one_digit(image, plane, matte, scale, separated)
        if found is None:
            return Line([], 0.0)
        return Line([found], (found.ink.box.bottom - found.ink.box.top) * found.factor)
    groups = []
    for ink, region in parts:
        origin, factor = (0, 0), scale
        if scale > 1 and ink.box.long_side < REREAD_BELOW:
            ink, origin, factor = _reread(image, ink, region, scale, matte)
        groups.append(Digit(ink, origin, factor, image.size))
    return Line(groups, line * scale)


def lone_digit(image: Image.Image) -> Digit | None:
    """`find_ink`'s digit of an "L" or "RGBA" image: the ink of a line read as one digit."""
    plane, matte, scale = working_plane(image)
    return one_digit(image, plane, matte, scale, separate(plane))


def _split(separated: Separated, scale: float) -> tuple[list[tuple[Ink, np.ndarray]], float]:
    """The groups of the separated ink, left to right: each one's ink and the region of the
    plane that is its own (a bool mask: its strokes and their rim, no neighbour's); and the
    line's height on the plane. Specks are left out, by the same rules as for one digit."""
    shape = separated.weak.shape
    pieces = separated.pieces(max(shape))  # one cell a pixel
    groups, line = _group_pieces(pieces.boxes, pieces.weight)
    owner = np.full(len(pieces.weight), -1)
    for number, members in enumerate(groups):
        owner[members] = number
    labels = np.full(shape[0] * shape[1], -1)
    labels[pieces.cells] = owner[pieces.piece]
    labels = labels.reshape(shape)
    boxes = [Box(*(int(v) for v in union(pieces.boxes[members]))) for members in groups]
    digits = []
    for number in sorted(range(len(groups)), key=lambda n: boxes[n].left + boxes[n].right):
        ink, region = _digit_ink(separated.soft, labels, number, boxes[number])
        if not is_speck(ink, shape, scale):
            digits.append((ink, region))
    return digits, line


def _group_pieces(boxes: np.ndarray, weight: np.ndarray) -> tuple[list[np.ndarray], float]:
    """Pieces (boxes and weights, as `find_pieces` gives them) grouped into digits; the line's height.

    The line's height is the median height of the heavy pieces, then of the heavy groups, so
    digits of different heights and a sloped line barely move it. A part too short to be a digit
    (a detached bar, a dash of a broken stroke, a speck) joins the nearest ink within reach, the
    closest pair first, so a dotted stroke comes together; strokes one above another make one
    digit (`_stacked`). What stays short is no digit (a speck, a dot, a dash) and is left out.
    """
    live = np.flatnonzero(weight > 0)
    if not live.size:
        return [], 0.0
    if live.size > MAX_PIECES:
        live = np.sort(live[np.argsort(weight[live], kind="stable")[-MAX_PIECES:]])
    groups = [live[i : i + 1] for i in range(len(live))]
    box, mass = boxes[live].astype(np.float64), weight[live].astype(np.float64)
    line = _line_height(box, mass)
    groups, box, mass = _join_minor(groups, box, mass, line)
    while len(groups) > 1:
        joined = _stacked(box) | _abutting(box, line)
        if not joined.any():
            break
        groups, box, mass = _merge(groups, box, mass, joined)
    line = _line_height(box, mass)
    groups, box, mass = _join_minor(groups, box, mass, line)
    return [group for group, tall in zip(groups, box[:, 3] - box[:, 1]) if tall >= MINOR * line], line


def _line_height(box: np.ndarray, mass: np.ndarray) -> float:
    """The median height of the boxes holding at least a fifth of the heaviest one's ink."""
    return float(np.median((box[:, 3] - box[:, 1])[mass >= 0.2 * mass.max()]))


def _join_minor(
    groups: list[np.ndarray], box: np.ndarray, mass: np.ndarray, line: float
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Parts shorter than a digit joined to the nearest ink within reach, the closest pair first."""
    while len(groups) > 1:
        minor = box[:, 3] - box[:, 1] < MINOR * line
        if not minor.any():
            break
        gaps = np.maximum.reduce([box[:, None, 0] - box[None, :, 2], box[None, :, 0] - box[:, None, 2],
                                  box[:, None, 1] - box[None, :, 3], box[None, :, 1] - box[:, None, 3]])  # fmt: skip
        gaps[~(minor[:, None] | minor[None, :])] = np.inf
        np.fill_diagonal(gaps, np.inf)
        first, second = np.unravel_index(int(gaps.argmin()), gaps.shape)
        if gaps[first, second] > MINOR_REACH * line:
            break
        joined = np.zeros(gaps.shape, bool)
        joined[min(first, second), max(first, second)] = True
        groups, box, mass = _merge(groups, box, mass, joined)
    return groups, box, mass


def _stacked(box: np.ndarray) -> np.ndarray:
    """Which pairs of boxes (left, top, right, bottom) lie one above the other: upper triangle."""
    left, top, right, bottom = box.T
    width = right - left
    overlap = np.minimum(right[:, None], right[None, :]) - np.maximum(left[:, None], left[None, :])
    gap = np.maximum(top[None, :] - bottom[:, None], top[:, None] - bottom[None, :])
    long_side = np.maximum(width, bottom - top)
    joined = (overlap >= 0.5 * np.minimum(width[:, None], width[None, :])) & (
        gap <= STACK_GAP * np.minimum(long_side[:, None], long_side[None, :])
    )
    return np.triu(joined, 1)


def _abutting(box: np.ndarray, line: float) -> np.ndarray:
    """Which pairs of boxes nearly touch and together are no wider than a digit: upper triangle."""
    left, top, right, bottom = box.T
    gap = np.maximum.reduce([left[:, None] - right[None, :], left[None, :] - right[:, None],
                             top[:, None] - bottom[None, :], top[None, :] - bottom[:, None]])  # fmt: skip
    width = np.maximum(right[:, None], right[None, :]) - np.minimum(left[:, None], left[None, :])
    return np.triu((gap <= ABUT * line) & (width <= ABUT_WIDTH * line), 1)


def _merge(
    groups: list[np.ndarray], box: np.ndarray, mass: np.ndarray, joined: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Groups merged along the pairs marked in `joined` (and through them, transitively)."""
    root = list(range(len(groups)))

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    for first, second in np.argwhere(joined):
        root[find(int(second))] = find(int(first))
    members: dict[int, list[int]] = {}
    for i in range(len(groups)):
        members.setdefault(find(i), []).append(i)
    together = list(members.values())
    return (
        [np.concatenate([groups[i] for i in part]) for part in together],
        np.array([union(box[part]) for part in together]),
        np.array([mass[part].sum() for part in together]),
    )


def _digit_ink(soft: np.ndarray, labels: np.ndarray, number: int, box: Box) -> tuple[Ink, np.ndarray]:
    """The ink of label `number` (within `box`) with its anti-aliased rim but no neighbour's ink,
    and the region of the plane it was taken from (a bool mask)."""
    height, width = labels.shape
    window = Box(max(0, box.left - 4), max(0, box.top - 4), min(width, box.right + 4), min(height, box.bottom + 4))
    near = labels[window.slices]
    kept = near == number
    region = np.zeros(labels.shape, bool)
    region[window.slices] = dilate(kept, 2) & ~dilate((near >= 0) & ~kept, 1)
    out = np.where(region, soft, 0).astype(np.float32)
    return Ink(out, Box.around(out)), region


def _reread(
    image: Image.Image, ink: Ink, region: np.ndarray, scale: float, matte: np.ndarray | None
) -> tuple[Ink, tuple[int, int], float]:
    """One digit of a number re-read from a crop of the source at a higher resolution.

    As `_refine` does for a lone digit, but only the ink within the digit's own `region` of the
    first pass is kept, since the crop may show its neighbours. Returns the ink and where its
    plane lies in the source (the crop's origin, source pixels per plane pixel); the first
    pass's ink, on the image's plane, where the sharper read does not cover it.
    """
    crop = source_box(ink.box, scale, image.size)
    plane, _, factor = working_plane(image.crop(crop), matte)
    separated = separate(plane)
    if separated is None:
        return ink, (0, 0), scale
    # each of the crop's plane pixels, by its centre, in the first pass's pixels
    rows = ((crop.top + (np.arange(plane.shape[0]) + 0.5) * factor) / scale).astype(np.int64)
    columns = ((crop.left + (np.arange(plane.shape[1]) + 0.5) * factor) / scale).astype(np.int64)
    inside = region[np.ix_(np.minimum(rows, region.shape[0] - 1), np.minimum(columns, region.shape[1] - 1))]
    kept = separated.weak & inside
    if not kept.any():
        return ink, (0, 0), scale
    soft = np.where(dilate(kept, 2) & inside, separated.soft, 0).astype(np.float32)
    refined = Ink(soft, Box.around(soft))
    if not covers(refined.box, ink.box, crop, scale, factor):
        return ink, (0, 0), scale
    return refined, (crop.left, crop.top), factor

