"""User images through a preprocessing function and a model, one kind at a time.

`python -m benchmarks.user_accuracy` measures the app's accuracy on images as users send them
(`testkit.user_images`), and `tests/test_user_images.py` holds it to a floor; both run the loop
here, so the test checks exactly what the benchmark measures, on the same digits and the same
random images for a given seed. Each kind is scored three ways on the very same digits: through
the given `preprocess` (a blank verdict or an exception counts as an error), through the naive
resize most MNIST demos do, and as MNIST's own 28x28 test tensors (the reference).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from mnist_model.model import NOT_A_DIGIT
from testkit.user_images import KINDS, make_user_image

LIGHT_ON_DARK_KINDS = frozenset({"white_on_black"})  # the naive baseline does not invert these


@dataclass
class Failure:
    index: int  # in the MNIST test set
    label: int
    predicted: int | None  # None: preprocess called it blank, or raised; NOT_A_DIGIT: refused
    error: str | None = None


@dataclass
class KindResult:
    kind: str
    n: int = 0
    correct: int = 0
    blank: int = 0
    refused: int = 0  # the model answered "not a digit"
    errors: int = 0  # preprocess raised
    naive_correct: int = 0
    raw_correct: int = 0
    generate_s: float = 0.0
    preprocess_s: float = 0.0
    model_s: float = 0.0
    failures: list[Failure] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / max(1, self.n)

    @property
    def refused_rate(self) -> float:
        return self.refused / max(1, self.n)


def pick_digits(n_test: int, kinds: Sequence[str], per_kind: int, seed: int) -> dict[str, np.ndarray]:
    """Disjoint test indices for each kind (they wrap around once all `n_test` are used)."""
    order = np.random.default_rng(seed).permutation(n_test)
    return {kind: order[(i * per_kind + np.arange(per_kind)) % n_test] for i, kind in enumerate(kinds)}


def kind_rng(seed: int, kind: str) -> np.random.Generator:
    """One generator per (seed, kind): a kind's images do not depend on which other kinds run."""
    return np.random.default_rng([seed, KINDS.index(kind)])


def naive_resize(image: Image.Image | dict[str, Any], kind: str) -> torch.Tensor:
    """What most MNIST demos do with their input: grey, invert dark-on-light, squash to 28x28.

    A Sketchpad dict gives its "composite", or its first layer when there is none.
    """
    if isinstance(image, dict):
        image = image["composite"] if image["composite"] is not None else image["layers"][0]
    grey = image.convert("L")
    if kind not in LIGHT_ON_DARK_KINDS:
        grey = ImageOps.invert(grey)
    pixels = np.asarray(grey.resize((28, 28)), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels)[None]


def classify(model: torch.nn.Module, batch: torch.Tensor) -> np.ndarray:
    """The model's top class for each image of `batch` (N x 1 x 28 x 28)."""
    with torch.inference_mode():
        return model(batch).argmax(dim=1).numpy()


def run_kind(
    kind: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: np.ndarray,
    model: torch.nn.Module,
    preprocess: Callable[[Any], Any],
    rng: np.random.Generator,
    keep: Callable[[int, Any, Any], None] | None = None,
) -> KindResult:
    """Generate, preprocess and classify one image per index; `keep(index, image, prepared)` sees failures."""
    result = KindResult(kind)
    naive, truth = [], []
    for index in indices.tolist():
        label = int(labels[index])
        started = time.perf_counter()
        image = make_user_image(images[index].numpy(), kind, rng)
        result.generate_s += time.perf_counter() - started
        naive.append(naive_resize(image, kind))
        truth.append(label)
        result.n += 1

        started = time.perf_counter()
        try:
            prepared = preprocess(image)
        except Exception as error:  # noqa: BLE001 - a crash on a user image is a failure we report
            result.preprocess_s += time.perf_counter() - started
            result.errors += 1
            result.failures.append(Failure(index, label, None, f"{type(error).__name__}: {error}"))
            continue
        result.preprocess_s += time.perf_counter() - started
        if prepared.is_blank or prepared.tensor is None:
            result.blank += 1
            result.failures.append(Failure(index, label, None))
            if keep is not None:
                keep(index, image, prepared)
            continue
        started = time.perf_counter()
        predicted = int(classify(model, prepared.tensor.reshape(1, 1, 28, 28).float())[0])
        result.model_s += time.perf_counter() - started
        result.refused += predicted == NOT_A_DIGIT
        if predicted == label:
            result.correct += 1
        else:
            result.failures.append(Failure(index, label, predicted))
            if keep is not None:
                keep(index, image, prepared)
    truth_array = np.array(truth)
    result.naive_correct = int((classify(model, torch.stack(naive)) == truth_array).sum())
    raw = images[torch.from_numpy(indices)].float().div(255.0).unsqueeze(1)
    result.raw_correct = int((classify(model, raw) == truth_array).sum())
    return result
