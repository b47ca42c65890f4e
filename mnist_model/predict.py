"""From an image to class probabilities, and to the number written on it: preprocessing and the model.

Used by the app (every endpoint), by `python -m mnist_model predict` / `read` and by the
benchmarks, so every caller classifies exactly the same way. `predict` reads one digit;
`read_number` finds each digit written, left to right, the model choosing where touching digits
part (`mnist_model.number`), a refused one showing as `UNREAD` in the number. A blank input gives no probabilities at all: a
demo that "recognises" an empty canvas as an 8 teaches people to distrust it. Ink that is not a
digit gets its probabilities too, its likeliest class being "not a digit" (`NOT_A_DIGIT_LABEL`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
from PIL import Image

from .model import NOT_A_DIGIT_LABEL, DigitNet, for_inference
from .ink import Box
from .decode import as_loaded, load_image
from .number import read_line
from .preprocess import ImageSource, preprocess

PREVIEW_SIZE = 140  # the 28x28 model input, shown enlarged 5x with nearest-neighbour
UNREAD = "?"  # a piece of a number that is not a digit
TOP = 3  # classes listed per digit of a number


@dataclass(frozen=True)
class Prediction:
    """Probabilities per class ("0".."9", "not a digit"), None when the input is blank, and the
    model's view."""

    confidences: dict[str, float] | None
    preview: Image.Image

    @property
    def is_blank(self) -> bool:
        """True when the input holds no ink to classify."""
        return self.confidences is None

    @property
    def top(self) -> tuple[str, float] | None:
        if self.confidences is None:  # blank
            return None
        label = max(self.confidences, key=self.confidences.__getitem__)
        return label, self.confidences[label]


@dataclass(frozen=True)
class DigitReading:
    """One digit of a number: what it reads as, how sure, the runners-up, and where it is."""

    confidences: dict[str, float]  # every class's probability, as `Prediction` has them
    box: Box  # its ink in the pixels of the input image (after EXIF orientation)
    preview: Image.Image  # the 28x28 image the model saw, white on black
    cut: bool  # cut from ink it shared with a neighbour (touching digits)

    @property
    def top(self) -> list[tuple[str, float]]:
        """The `TOP` likeliest classes and their probabilities, most likely first."""
        return sorted(self.confidences.items(), key=lambda item: -item[1])[:TOP]

    @property
    def label(self) -> str:
        """The digit it reads as, or `UNREAD` when its likeliest class is "not a digit"."""
        best = self.top[0][0]
        return UNREAD if best == NOT_A_DIGIT_LABEL else best

    @property
    def probability(self) -> float:
        """The probability of its likeliest class."""
        return self.top[0][1]


@dataclass(frozen=True)
class NumberReading:
    """The digits written on an input, left to right; none when it is blank."""

    digits: list[DigitReading]
    certainty: float = 1.0  # the probability that touching digits were cut where they part

    @property
    def text(self) -> str:
        """The number as written, UNREAD for each piece that is not a digit; "" when blank."""
        return "".join(digit.label for digit in self.digits)

    @property
    def probability(self) -> float:
        """The probability that every digit is right: each one read right, and cut right."""
        return self.certainty * math.prod(digit.probability for digit in self.digits)


class Predictor(Protocol):
    """What the app classifies with: `Classifier` in the server's own threads, or
    `mnist_model.pool.ClassifierPool` in worker processes."""

    def predict(self, source: ImageSource | None) -> Prediction:
        """Preprocess one input and classify it; a blank input gets no probabilities."""

    def read_number(self, source: ImageSource | None) -> NumberReading:
        """Find the digits written on one input and classify them in one batch."""

    def close(self) -> None:
        """Release whatever classifying holds (the pool's workers); the server calls it on exit."""


class Classifier:
    """A model made ready for inference (`for_inference`) plus the one preprocessing path;
    thread-safe for inference. A `Predictor`."""

    def __init__(self, model: DigitNet) -> None:
        self.model = for_inference(model)

    @torch.inference_mode()
    def predict(self, source: ImageSource | None) -> Prediction:
        """Preprocess one input and classify it; a blank input gets no probabilities."""
        item = preprocess(source)
        preview = item.preview.resize((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.NEAREST)
        if item.tensor is None:
            return Prediction(confidences=None, preview=preview)
        probabilities = torch.softmax(self.model(item.tensor[None]), dim=1)[0].tolist()
        return Prediction(dict(zip(self.model.labels, probabilities, strict=True)), preview)

    @torch.inference_mode()
    def read_number(self, source: ImageSource | None) -> NumberReading:
        """Find the digits written on one input, left to right, and classify them."""
        image = load_image(source)
        if image is None:
            return NumberReading([])
        line = read_line(as_loaded(image), self.probabilities)
        return NumberReading([
            DigitReading(dict(zip(self.model.labels, found.probabilities.tolist(), strict=True)),
                         found.digit.box, found.digit.preview, found.digit.cut)
            for found in line.digits
        ], line.certainty)

    def probabilities(self, batch: torch.Tensor) -> torch.Tensor:
        """The model's class probabilities for a batch of inputs (N, 1, 28, 28); (0, classes) for none."""
        if not len(batch):
            return torch.zeros((0, len(self.model.labels)))
        return torch.softmax(self.model(batch), dim=1)

    def close(self) -> None:
        """Nothing to release: the model lives in this process."""
