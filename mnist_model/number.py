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
SURE = 0.6  # a group read as a digit at least this likely is left whole, unless too wide for one
WIDE = 1.1  # a group wider than this (of the line's height, or its own if taller) is cut regardless
NARROW = 0.45  # a group narrower than this (of the line's height) is never cut: one digit at most
SPLIT_COST = 0.5  # each digit beyond the first in a group costs this much log-likelihood
WIDEST = 1.0  # a digit is seldom wider than tall (or than the line's height, where that is more) ...
WIDTH_COST = 3.0  # ... and each height wider costs it this much log-likelihood

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
        height = line.height / line.groups[index].factor
        widths = {span: _aspect(found.pieces.get(span, line.groups[index]), height) for span in options}
        path, share = _best_path(found.cuts, {span: p for span, (_, p) in options.items()}, widths)
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
    refused as one digit (the model learns touching digits as "not a digit") or read unsurely."""
    height = line.height / group.factor
    box = group.ink.box
    width, tall = box.right - box.left, box.bottom - box.top
    if width < NARROW * height:
        return False
    if width > WIDE * max(height, tall):
        return True
    return bool(probabilities.argmax() >= DIGITS) or float(probabilities[:DIGITS].max()) < SURE


def _aspect(digit: Digit, height: float) -> float:
    """A piece's width over its height, or the line's height where that is taller: a digit
    written larger than its neighbours is wider too."""
    box = digit.ink.box
    return (box.right - box.left) / max(height, box.bottom - box.top)


def _best_path(
    cuts: int, options: dict[tuple[int, int], torch.Tensor], widths: dict[tuple[int, int], float]
) -> tuple[list[tuple[int, int]], float]:
    """The likeliest way through the cuts 0 .. `cuts - 1`: its pieces, left to right, and the
    share of the likelihood of all ways that it holds among those that read the same digits
    (neighbouring cuts often part the same two digits, and agree).

    A piece's likelihood is that of its likeliest digit, less `WIDTH_COST` for each height it is
    wider than `WIDEST` (`widths`: width over height, see `_aspect`); each piece beyond
    the first costs `SPLIT_COST`. The best path comes from the Viterbi recursion, the totals from
    forward ones.
    """
    score = {
        span: math.log(max(float(p[:DIGITS].max()), 1e-12)) - WIDTH_COST * max(0.0, widths[span] - WIDEST) - SPLIT_COST
        for span, p in options.items()
    }
    spans = sorted(score, key=lambda span: span[1])  # by their end: every way into i is known before i is left
    best = np.full(cuts, -np.inf)
    best[0] = SPLIT_COST  # the first piece pays nothing
    came: dict[int, int] = {}
    for i, j in spans:
        if best[i] + score[i, j] > best[j]:
            best[j], came[j] = best[i] + score[i, j], i
    path, end = [], cuts - 1
    while end:
        path.append((came[end], end))
        end = came[end]
    path.reverse()
    digits = [int(options[span][:DIGITS].argmax()) for span in path]
    # total[j, k]: every way to cut j reading any k digits; same[j, k]: those reading the best's first k
    total = np.full((cuts, cuts), -np.inf)
    same = np.full((cuts, len(digits) + 1), -np.inf)
    total[0, 0] = same[0, 0] = SPLIT_COST
    for i, j in spans:
        value, digit = score[i, j], int(options[i, j][:DIGITS].argmax())
        total[j, 1:] = np.logaddexp(total[j, 1:], total[i, :-1] + value)
        matches = np.array([k < len(digits) and digits[k] == digit for k in range(len(digits))])
        same[j, 1:] = np.where(matches, np.logaddexp(same[j, 1:], same[i, :-1] + value), same[j, 1:])
    return path, float(math.exp(same[-1, -1] - np.logaddexp.reduce(total[-1])))
