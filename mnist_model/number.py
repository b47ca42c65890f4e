"""A number read from a line of writing, with the recogniser choosing where touching digits part.

`mnist_model.line.find_line` groups the ink; most groups are one digit each. A group that is
too wide for one digit, or that the model does not read confidently as one, may be digits whose
ink touches. For such a group `mnist_model.cuts` offers candidate cuts and the pieces between
them; the model reads every piece (one batch for the whole line), and the reading of the group
is the path through the cuts whose pieces the model finds likeliest, each extra digit paying
`SPLIT_COST` so that a digit is only split where its pieces read far better than it does. The
share of all paths' likelihood that the chosen one holds is the cuts' certainty: it falls when
another cut would read almost as well.

    reading = read_line(image, classify)   # classify: (N, 1, 28, 28) -> (N, classes) probabilities
    [(found.digit.box, found.probabilities.argmax()) for found in reading.digits], reading.certainty
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .cuts import lattice
from .ink import Digit
from .line import Line, find_line
from .preprocess import CANVAS, PreprocessedDigit, drawn

DIGITS = 10  # the model's first ten classes are the digits; an eleventh is "not a digit"
SURE = 0.9  # a group read as a digit at least this likely is left whole, unless too wide for one
WIDE = 1.1  # a group wider than this (of the line's height, or its own if taller) is cut regardless
NARROW = 0.45  # a group narrower than this (of the line's height) is never cut: one digit at most
SPLIT_COST = 1.5  # each digit beyond the first in a group costs this much log-likelihood

Classify = Callable[[torch.Tensor], torch.Tensor]  # (N, 1, 28, 28) -> (N, classes) probabilities


@dataclass(frozen=True)
class Found:
    """One digit of the line: its model input and where it was written, and the model's probabilities."""

    digit: PreprocessedDigit
    probabilities: torch.Tensor  # (classes,)


@dataclass(frozen=True)
class LineReading:
    """The digits read from a line, left to right, and how certain the cuts between them are."""

    digits: list[Found]
    certainty: float  # the probability that the touching digits were cut where they part; 1 if none


def read_line(image: Image.Image, classify: Classify) -> LineReading:
    """Every digit written in an "L" or "RGBA" image, left to right, each read by `classify`.

    The groups of ink are read in one batch; the groups that may be touching digits are cut
    at every candidate and their pieces read in a second batch; each such group is then read
    along its likeliest path of cuts (`_best_path`).
    """
    line = find_line(image)
    if not line.groups:
        return LineReading([], 1.0)
    whole = [_preprocessed(group) for group in line.groups]
    probabilities = classify(stack_digits(whole))
    lattices = {
        index: lattice(group, line.height / group.factor)
        for index, group in enumerate(line.groups)
        if _may_be_several(group, probabilities[index], line)
    }
    pieces = {(index, span): _preprocessed(piece) for index, found in lattices.items() for span, piece in found.pieces.items()}
    piece_probabilities = dict(zip(pieces, classify(stack_digits(list(pieces.values())))))
    digits, certainty = [], 1.0
    for index in range(len(line.groups)):
        if index not in lattices:
            digits.append(Found(whole[index], probabilities[index]))
            continue
        found = lattices[index]
        options = {span: (pieces[index, span], piece_probabilities[index, span]) for span in found.pieces}
        options[(0, found.cuts - 1)] = (whole[index], probabilities[index])
        path, share = _best_path(found.cuts, {span: p for span, (_, p) in options.items()})
        digits += [Found(*options[span]) for span in path]
        certainty *= share
    return LineReading(digits, certainty)


def stack_digits(digits: list[PreprocessedDigit]) -> torch.Tensor:
    """Digits as one (N, 1, 28, 28) batch, left to right: one model call for many."""
    if not digits:
        return torch.zeros((0, 1, CANVAS, CANVAS), dtype=torch.float32)
    return torch.stack([digit.tensor for digit in digits])


def _preprocessed(group: Digit) -> PreprocessedDigit:
    return PreprocessedDigit(*drawn(group.ink), group.source, group.cut)


def _may_be_several(group: Digit, probabilities: torch.Tensor, line: Line) -> bool:
    """Whether a group may hold touching digits: too wide for one, or wide enough for two and
    not read confidently as one."""
    height = line.height / group.factor
    box = group.ink.box
    width, tall = box.right - box.left, box.bottom - box.top
    if width < NARROW * height:
        return False
    if width > WIDE * max(height, tall):
        return True
    return float(probabilities[:DIGITS].max()) < SURE


def _best_path(cuts: int, options: dict[tuple[int, int], torch.Tensor]) -> tuple[list[tuple[int, int]], float]:
    """The likeliest way through the cuts 0 .. `cuts - 1`: its pieces, left to right, and the
    share of the likelihood of all ways that it holds.

    A piece's likelihood is that of its likeliest digit; each piece beyond the first costs
    `SPLIT_COST`. The best path comes from the Viterbi recursion, the total from the forward one.
    """
    score = {span: math.log(max(float(p[:DIGITS].max()), 1e-12)) - SPLIT_COST for span, p in options.items()}
    best = np.full(cuts, -np.inf)
    total = np.full(cuts, -np.inf)
    best[0] = total[0] = SPLIT_COST  # the first piece pays nothing
    came: dict[int, int] = {}
    for (i, j), value in sorted(score.items(), key=lambda item: item[0][1]):
        # spans sorted by their end: every way into i is known before i is left
        if best[i] + value > best[j]:
            best[j], came[j] = best[i] + value, i
        total[j] = np.logaddexp(total[j], total[i] + value)
    path, end = [], cuts - 1
    while end:
        path.append((came[end], end))
        end = came[end]
    return path[::-1], float(math.exp(best[-1] - total[-1]))
