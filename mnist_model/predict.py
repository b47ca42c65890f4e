"""From an image to class probabilities: preprocessing and the model, batched.

Used by the app (both endpoints), by `python -m mnist_model predict` and by the benchmarks, so
every caller classifies exactly the same way. A blank input gives no probabilities at all: a
demo that "recognises" an empty canvas as an 8 teaches people to distrust it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from .preprocess import ImageSource, preprocess

PREVIEW_SIZE = 140  # the 28x28 model input, shown enlarged 5x with nearest-neighbour


@dataclass(frozen=True)
class Prediction:
    """Probabilities per class ("0".."9"), None when the input is blank, and the model's view."""

    confidences: dict[str, float] | None
    preview: Image.Image

    @property
    def top(self) -> tuple[str, float] | None:
        if self.confidences is None:
            return None
        label = max(self.confidences, key=self.confidences.__getitem__)
        return label, self.confidences[label]


class Classifier:
    """A model in eval mode plus the one preprocessing path; thread-safe for inference."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model.eval()

    def predict(self, source: ImageSource | None) -> Prediction:
        return self.predict_many([source])[0]

    @torch.inference_mode()
    def predict_many(self, sources: Sequence[ImageSource | None]) -> list[Prediction]:
        """Classify several inputs with one forward pass over those that are not blank."""
        inputs = [preprocess(source) for source in sources]
        drawn = [item.tensor for item in inputs if item.tensor is not None]
        probabilities = iter(torch.softmax(self.model(torch.stack(drawn)), dim=1).tolist() if drawn else [])
        return [
            Prediction(
                confidences=None if item.tensor is None
                else {str(digit): p for digit, p in enumerate(next(probabilities))},
                preview=item.preview.resize((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.NEAREST),
            )
            for item in inputs
        ]
