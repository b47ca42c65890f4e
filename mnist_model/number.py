"""A number read from a line of writing, with the recogniser choosing where touching digits part.

`mnist_model.line.find_line` groups the ink; most groups are one digit each. A group that is
too wide for one digit, or that the model does not read confidently as one, may be digits whose
ink touches. For such a group `mnist_model.cuts` offers candidate cuts and the pieces between
them; the model reads every piece (one batch for the whole line), and the line is read along
the path through all its cuts whose pieces the model finds likeliest, each extra digit paying
`SPLIT_COST` so that a digit is only split where its pieces read far better than it does. The
share of all paths' likelihood that the chosen one holds is the cuts' certainty: it falls when
another cut would read almost as well. The other way round, two neighbouring groups close
together, one of them read unsurely, may be one digit whose stroke was set apart (a 4's
upright); their ink joined is one more candidate on the same path.

    reading = read_line(image, classify)   # classify: (N, 1, 28, 28) -> (N, classes) probabilities
    [(found.digit.box, found.probabilities.argmax()) for found in reading.digits], reading.certainty
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import torch
from PIL import Image

from .cuts import lattice
from .ink import Box, Digit, Ink
from .line import Line, find_line, lone_digit
from .preprocess import CANVAS, PreprocessedDigit, drawn

DIGITS = 10  # the model's first ten classes are the digits; an eleventh is "not a digit"
SURE = 0.6  # a group read as a digit at least this likely is left whole, unless too wide for one
WIDE = 1.1  # a group wider than this (of the line's height, or its own if taller) is cut regardless
NARROW = 0.45  # a group narrower than this (of the line's height) is never cut: one digit at most
SPLIT_COST = 0.5  # each digit beyond the first in a group costs this much log-likelihood
WIDEST = 1.0  # a digit is seldom wider than tall (or than the line's height, where that is more) ...
WIDTH_COST = 3.0  # ... and each height wider costs it this much log-likelihood
JOIN_GAP = 0.1  # neighbouring groups no farther apart than this (of the line's height) ...
JOIN_WIDTH = 1.0  # ... and no wider together (of the line's height, or their own if taller) may be one digit

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

    The groups of ink are read in one batch. Then, in a second batch, the groups that may be
    touching digits are cut at every candidate and neighbouring groups that may be one digit
    (a stroke that broke off) are joined, and the line is read along its likeliest path
    (`_best_path`) through all of these. A line read as one digit is `find_ink`'s digit, as
    `predict` reads it.
    """
    line = find_line(image)
    if not line.groups:
        return LineReading([], 1.0)
    whole = [_preprocessed(group) for group in line.groups]
    probabilities = classify(stack_digits(whole))
    candidates, ends = _candidates(line, probabilities)
    spans = list(candidates)
    read = [_preprocessed(candidates[span]) for span in spans]
    options = dict(zip(spans, zip(read, classify(stack_digits(read)))))
    for index, group in enumerate(line.groups):
        candidates[ends[index], ends[index + 1]] = group
        options[ends[index], ends[index + 1]] = (whole[index], probabilities[index])
    widths = {span: _aspect(digit, line.height / digit.factor) for span, digit in candidates.items()}
    path, certainty = _best_path(ends[-1] + 1, {span: p for span, (_, p) in options.items()}, widths)
    if len(path) == 1 and len(line.groups) > 1:
        alone = lone_digit(image)
        if alone is not None:
            digit = _preprocessed(alone)
            return LineReading([Found(digit, classify(stack_digits([digit]))[0])], certainty)
    return LineReading([Found(*options[span]) for span in path], certainty)


def _candidates(line: Line, probabilities: torch.Tensor) -> tuple[dict[tuple[int, int], Digit], list[int]]:
    """The ink to read beyond the groups themselves: the pieces between candidate cuts of each
    group that may be touching digits, and neighbouring groups joined that may be one digit;
    each under its span of the line's cuts. Also the cut where each group starts (and, last,
    where the line ends), numbering the cuts of all groups left to right."""
    lattices = {
        index: lattice(group, line.height / group.factor)
        for index, group in enumerate(line.groups)
        if _may_be_several(group, probabilities[index], line)
    }
    ends = list(accumulate((lattices[index].cuts - 1 if index in lattices else 1 for index in range(len(line.groups))),
                           initial=0))  # fmt: skip
    candidates = {}
    for index, found in lattices.items():
        candidates |= {(ends[index] + i, ends[index] + j): piece for (i, j), piece in found.pieces.items()}
    unsure = [_unsure(p) for p in probabilities]
    for index in range(len(line.groups) - 1):
        if unsure[index] or unsure[index + 1]:
            joined = _joined(line.groups[index], line.groups[index + 1], line)
            if joined is not None:
                candidates[ends[index], ends[index + 2]] = joined
    return candidates, ends


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
    return _unsure(probabilities)


def _unsure(probabilities: torch.Tensor) -> bool:
    """Whether a group is read as "not a digit", or as a digit less likely than `SURE`."""
    return bool(probabilities.argmax() >= DIGITS) or float(probabilities[:DIGITS].max()) < SURE


def _joined(left: Digit, right: Digit, line: Line) -> Digit | None:
    """Two neighbouring groups as one digit, where they lie on one plane, no farther apart
    than `JOIN_GAP` and together no wider than `JOIN_WIDTH`; None otherwise."""
    if left.origin != right.origin or left.factor != right.factor:
        return None
    first, second = left.ink.box, right.ink.box
    height = line.height / left.factor
    tall = max(first.bottom, second.bottom) - min(first.top, second.top)
    wide = max(first.right, second.right) - min(first.left, second.left)
    apart = max(first.left, second.left) - min(first.right, second.right)
    if apart > JOIN_GAP * height or wide > JOIN_WIDTH * max(height, tall):
        return None
    soft = np.maximum(left.ink.soft, right.ink.soft)
    return Digit(Ink(soft, Box.around(soft)), left.origin, left.factor, left.size)


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
