"""Properties of the preprocessing, checked on inputs that hypothesis makes up.

The example-based tests (`test_preprocess.py`) pin the cases someone thought of; these search
the space between them. Whatever the size (down to 1xN and Nx1), PIL mode and content (noise, a
flat colour, random strokes, NaNs and infinities in float images), `preprocess` must either say
"blank" or give a finite (1, 28, 28) float tensor in [0, 1], and raise nothing but `ImageError`.
And a digit the model reads with confidence must be read the same wherever it is drawn on a
canvas and at whatever size. Examples are derandomized and no database is kept, so every run
(and CI) tries the same inputs; the budgets keep the file to a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_model.data import load_mnist
from mnist_model.decode import ImageError
from mnist_model.loader import load_model
from mnist_model.predict import Classifier
from mnist_model.preprocess import preprocess
from testkit.random_images import CONTENTS, MODES, make_image

pytestmark = pytest.mark.slow  # hundreds of generated examples per property

CONFIDENT = 0.8  # digits the model reads at least this surely (label smoothing caps it near 0.95)
REPRODUCIBLE = {"derandomize": True, "database": None, "deadline": 2000}

sizes = st.one_of(
    st.tuples(st.integers(1, 300), st.integers(1, 300)),
    st.tuples(st.just(1), st.integers(1, 5000)),
    st.tuples(st.integers(1, 5000), st.just(1)),
)




@given(
    size=sizes,
    mode=st.sampled_from(MODES),
    content=st.sampled_from(CONTENTS),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=1000, **REPRODUCIBLE)
def test_any_image_gives_blank_or_a_finite_28x28_tensor(
    size: tuple[int, int], mode: str, content: str, seed: int
) -> None:
    image = make_image(size, mode, content, seed)
    try:
        result = preprocess(image)
    except ImageError:
        return  # a clear refusal is a defined outcome too
    assert result.preview.mode == "L" and result.preview.size == (28, 28)
    if result.tensor is not None:
        tensor = result.tensor
        assert tensor.shape == (1, 28, 28) and tensor.dtype == torch.float32
        assert torch.isfinite(tensor).all() and tensor.min() >= 0 and tensor.max() <= 1


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_model().model)


@pytest.fixture(scope="module")
def confident_digits(data_dir: Path, classifier: Classifier) -> list[tuple[np.ndarray, str]]:
    """MNIST test digits (white on black) that the model reads right and surely, as given."""
    images, labels = load_mnist(data_dir, train=False)
    with torch.inference_mode():
        probabilities = torch.softmax(classifier.model(images[:300, None].float() / 255), dim=1)
    confidence, predicted = probabilities.max(dim=1)
    chosen = (predicted == labels[:300]) & (confidence >= CONFIDENT)
    return [(images[i].numpy(), str(int(labels[i]))) for i in torch.nonzero(chosen).ravel()[:40]]


@given(
    index=st.integers(0, 39),
    canvas=st.tuples(st.integers(100, 800), st.integers(100, 800)),
    scale=st.floats(0.0, 1.0),
    where=st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)),
)
@settings(max_examples=200, **REPRODUCIBLE)
def test_a_digit_reads_the_same_anywhere_at_any_size(
    classifier: Classifier,
    confident_digits: list[tuple[np.ndarray, str]],
    index: int,
    canvas: tuple[int, int],
    scale: float,
    where: tuple[float, float],
) -> None:
    """The 28x28 digit, enlarged to any side from 28 px to the canvas's short side, placed
    anywhere, black on white as people draw: the same prediction as the original."""
    digit, label = confident_digits[index % len(confident_digits)]
    side = round(28 + scale * (min(canvas) - 28))
    tile = Image.fromarray(255 - digit).resize((side, side), Image.Resampling.BICUBIC)
    page = Image.new("L", canvas, 255)
    page.paste(tile, (round(where[0] * (canvas[0] - side)), round(where[1] * (canvas[1] - side))))
    top = classifier.predict(page).top
    assert top is not None and top[0] == label, (top, side)
