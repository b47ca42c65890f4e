"""The refusal's calibration: the smallest bias that keeps every digit kind's refusals within
its limit, the whole curve recorded, and the bias carried by the model and its config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mnist_model.calibration import BIASES, DIGIT_KIND_LIMIT, MNIST_KIND, calibrate
from mnist_model.model import NOT_A_DIGIT, DigitNet
from mnist_model.weights import load_model_folder


def _logits(refusal: list[float], labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits whose digit 0 scores 0 and whose refusal scores `refusal`, one row each."""
    values = torch.full((len(refusal), 11), -10.0)
    values[:, 0] = 0.0
    values[:, NOT_A_DIGIT] = torch.tensor(refusal)
    return values, torch.tensor(labels)


def test_the_smallest_bias_that_keeps_the_promise_is_chosen() -> None:
    # MNIST digits never refused; an unseen style's digits lean to a refusal by up to 1.1;
    # the non-digits by 0.5 to 3.
    chosen = calibrate({
        MNIST_KIND: _logits([-3.0] * 200, [0] * 200),
        "unseen_style": _logits([1.1, 0.4, -1.0] * 100, [0] * 300),
        "not_digits": _logits([0.5, 1.5, 3.0] * 100, [NOT_A_DIGIT] * 300),
    })
    assert chosen.bias == 1.25  # the first quarter step above 1.1
    point = chosen.point(chosen.bias)
    assert point["refused"]["unseen_style"] == 0.0 <= DIGIT_KIND_LIMIT
    assert point["not_digits_refused"] == pytest.approx(2 / 3)
    assert [p["bias"] for p in chosen.curve] == list(BIASES)
    assert chosen.point(0.0)["refused"]["unseen_style"] == pytest.approx(2 / 3)


def test_when_no_bias_keeps_the_promise_the_least_refusing_is_taken() -> None:
    chosen = calibrate({MNIST_KIND: _logits([50.0] * 10, [0] * 10)})
    assert chosen.bias == BIASES[-1]


def test_the_bias_lowers_the_refusal_logit_and_is_saved(tmp_path: Path) -> None:
    torch.manual_seed(0)
    plain = DigitNet().eval()
    biased = DigitNet(refusal_bias=2.0).eval()
    biased.load_state_dict(plain.state_dict())
    images = torch.rand(4, 1, 28, 28)
    difference = plain(images) - biased(images)
    assert torch.allclose(difference[:, NOT_A_DIGIT], torch.full((4,), 2.0))
    assert torch.allclose(difference[:, :NOT_A_DIGIT], torch.zeros(4, 10))
    biased.save_pretrained(tmp_path)
    assert load_model_folder(tmp_path).refusal_bias == 2.0
    assert set(biased.state_dict()) == set(plain.state_dict())  # the bias is config, not a weight
