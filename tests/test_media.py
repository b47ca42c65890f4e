"""Digits through other media and photos of empty paper: every medium keeps the digit readable
by the preprocessing, is deterministic for a seed, and what the ink finder makes of paper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist_model.data import load_mnist
from mnist_model.media import HELD_OUT_MEDIA, MEDIA, PAPER_FLAWS, empty_paper, render
from mnist_model.preprocess import to_mnist


@pytest.fixture(scope="module")
def digits(data_dir: Path) -> np.ndarray:
    return load_mnist(data_dir, train=False)[0][:12].numpy()


@pytest.mark.parametrize("medium", MEDIA + HELD_OUT_MEDIA)
def test_each_medium_gives_ink_the_preprocessing_finds(digits: np.ndarray, medium: str) -> None:
    rng = np.random.default_rng(0)
    for digit in digits:
        image = render(digit, medium, rng)
        assert isinstance(image, Image.Image) and image.mode == "L"
        prepared = to_mnist(image)
        assert prepared.tensor is not None, medium
        ys, xs = np.nonzero(prepared.tensor[0].numpy() > 0.1)
        assert 14 <= max(np.ptp(ys), np.ptp(xs)) + 1 <= 21  # a digit, fitted into MNIST's box


def test_media_are_deterministic_for_a_seed(digits: np.ndarray) -> None:
    for medium in MEDIA + HELD_OUT_MEDIA:
        first = render(digits[0], medium, np.random.default_rng(7))
        again = render(digits[0], medium, np.random.default_rng(7))
        assert np.array_equal(np.asarray(first), np.asarray(again)), medium


def test_a_scan_is_few_pixels_enlarged(digits: np.ndarray) -> None:
    image = np.asarray(render(digits[0], "scan", np.random.default_rng(1)), np.float32)
    assert np.abs(np.diff(image, axis=1)).mean() < 6  # smooth: no pen-sharp edges


def test_unknown_medium_and_flaw_are_named() -> None:
    with pytest.raises(ValueError, match="unknown medium 'crayon'"):
        render(np.zeros((28, 28), np.uint8), "crayon", np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown flaw 'coffee'"):
        empty_paper(np.random.default_rng(0), "coffee")


def test_plain_empty_paper_is_blank_and_faint_flaws_mostly_are() -> None:
    rng = np.random.default_rng(3)
    assert all(to_mnist(empty_paper(rng, "plain")).tensor is None for _ in range(10))
    for flaw in ("fold", "fibre"):  # thin and faint: the ink finder's contrast rule keeps them out
        found = sum(to_mnist(empty_paper(rng, flaw)).tensor is not None for _ in range(20))
        assert found <= 8, (flaw, found)
    assert set(PAPER_FLAWS) >= {"shadow", "table_edge"}
