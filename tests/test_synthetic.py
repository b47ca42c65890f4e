"""The synthetic printed digits and non-digits: the two font families only, DejaVu Serif held
out, the app's own preprocessing, deterministic for a seed, and clear when fonts are missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_model import synthetic
from mnist_model.preprocess import to_mnist
from mnist_model.synthetic import (
    LETTERS,
    LETTERS_LIKE_DIGITS,
    NOT_DIGIT_KINDS,
    FontsNotFoundError,
    draw_not_digit,
    draw_printed_digit,
    font_files,
    make_synthetic,
)


def test_training_types_with_dejavu_and_liberation_and_never_dejavu_serif() -> None:
    training, held_out = font_files(), font_files(held_out=True)
    assert training and held_out
    assert all(path.name.startswith(("DejaVu", "Liberation")) for path in training + held_out)
    assert not any(path.name.startswith("DejaVuSerif") for path in training)
    assert all(path.name.startswith("DejaVuSerif") for path in held_out)
    assert any("Mono" in path.name for path in training) and any("LiberationSerif" in path.name for path in training)


def test_letters_shaped_like_digits_are_not_taught_as_non_digits() -> None:
    assert not set(LETTERS) & set(LETTERS_LIKE_DIGITS)
    assert {"A", "a", "K", "x", "E"} <= set(LETTERS) and {"O", "I", "l", "S"} <= set(LETTERS_LIKE_DIGITS)


def test_make_synthetic_gives_mnist_format_images_and_is_deterministic() -> None:
    images, labels = make_synthetic(20, 30, np.random.default_rng(5))
    again, labels_again = make_synthetic(20, 30, np.random.default_rng(5))
    assert images.shape == (50, 28, 28) and images.dtype == torch.uint8
    assert torch.equal(images, again) and torch.equal(labels, labels_again)
    assert torch.bincount(labels, minlength=11).tolist() == [2] * 10 + [30]  # 30 of NOT_A_DIGIT
    assert (images.flatten(1).amax(dim=1) == 255).all()  # every image has ink at full strength


@pytest.mark.parametrize("kind", list(NOT_DIGIT_KINDS))
def test_each_kind_of_non_digit_has_ink_the_preprocessing_finds(kind: str) -> None:
    rng = np.random.default_rng(1)
    found = [to_mnist(draw_not_digit(kind, font_files(), rng)).tensor is not None for _ in range(10)]
    assert sum(found) >= 9, found


def test_printed_digits_are_what_the_preprocessing_centres() -> None:
    rng = np.random.default_rng(2)
    for digit in range(10):
        tensor = to_mnist(draw_printed_digit(digit, font_files(), rng)).tensor
        assert tensor is not None
        ys, xs = np.nonzero(tensor[0].numpy() > 0.1)
        assert 18 <= max(np.ptp(ys), np.ptp(xs)) + 1 <= 21  # fitted into MNIST's 20x20 box


def test_missing_fonts_are_one_sentence_naming_the_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(synthetic, "FONT_DIRS", (tmp_path,))
    monkeypatch.delenv(synthetic.FONTS_DIR_ENV, raising=False)
    with pytest.raises(FontsNotFoundError, match="fonts-dejavu-core and fonts-liberation2"):
        font_files()


def test_a_fonts_folder_of_ones_own_is_searched_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = font_files()[0]
    (tmp_path / source.name).write_bytes(source.read_bytes())
    monkeypatch.setattr(synthetic, "FONT_DIRS", ())
    monkeypatch.setenv(synthetic.FONTS_DIR_ENV, str(tmp_path))
    assert font_files() == [tmp_path / source.name]

