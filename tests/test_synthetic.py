"""The synthetic printed digits and non-digits: typed in the training fonts only, made by the
app's own preprocessing, deterministic for a seed; a missing glyph is never typed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_model import synthetic
from mnist_model.fonts import font_files
from mnist_model.preprocess import to_mnist
from mnist_model.synthetic import (
    LETTERS,
    LETTERS_LIKE_DIGITS,
    NOT_DIGIT_KINDS,
    draw_not_digit,
    draw_printed_digit,
    make_synthetic,
)


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
    found = [to_mnist(draw_not_digit(kind, font_files("training"), rng)).tensor is not None for _ in range(10)]
    assert sum(found) >= (3 if kind == "paper" else 9), found  # a shadow is often too soft to be ink


def test_printed_digits_are_what_the_preprocessing_centres() -> None:
    rng = np.random.default_rng(2)
    for digit in range(10):
        tensor = to_mnist(draw_printed_digit(digit, font_files("training"), rng)).tensor
        assert tensor is not None
        ys, xs = np.nonzero(tensor[0].numpy() > 0.1)
        assert 18 <= max(np.ptp(ys), np.ptp(xs)) + 1 <= 21  # fitted into MNIST's 20x20 box


def test_validation_fonts_type_the_validation_set(monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[str] = []
    original = synthetic._typed

    def typed(text: str, font_path: Path, rng: np.random.Generator):  # noqa: ANN202 - PIL image
        used.append(font_path.name)
        return original(text, font_path, rng)

    monkeypatch.setattr(synthetic, "_typed", typed)
    make_synthetic(20, 20, np.random.default_rng(3), role="validation")
    validation = {path.name for path in font_files("validation")}
    assert used and set(used) <= validation


def test_text_is_typed_only_in_fonts_that_hold_its_characters() -> None:
    rng = np.random.default_rng(4)
    fonts = font_files("training", "handwriting")
    for _ in range(20):
        chosen = synthetic._font_with("€", [*fonts, *font_files("training", "print")], rng)
        assert synthetic._has_glyph(chosen, "€")
    with pytest.raises(ValueError, match="none of the"):
        synthetic._font_with("\ue000", fonts, rng)
