"""From an image to class probabilities: preprocessing and the model.

Used by the app (both endpoints), by `python -m mnist_model predict` and by the benchmarks, so
every caller classifies exactly the same way. A blank input gives no probabilities at all: a
demo that "recognises" an empty canvas as an 8 teaches people to distrust it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from PIL import Image

from .model import DigitNet, for_inference
from .preprocess import ImageSource, preprocess

PREVIEW_SIZE = 140  # the 28x28 model input, shown enlarged 5x with nearest-neighbour


@dataclass(frozen=True)
class Prediction:
    """Probabilities per class ("0".."9"), None when the input is blank, and the model's view."""

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


class Predictor(Protocol):
    """What the app classifies with: `Classifier` in the server's own threads, or
    `mnist_model.pool.ClassifierPool` in worker processes."""

    def predict(self, source: ImageSource | None) -> Prediction:
        """Preprocess one input and classify it; a blank input gets no probabilities."""

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
        return Prediction({str(digit): p for digit, p in enumerate(probabilities)}, preview)

    def close(self) -> None:
        """Nothing to release: the model lives in this process."""
