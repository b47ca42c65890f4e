"""The network itself: shapes, the Hub mixin's file format, strict loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from mnist_model.data import load_mnist
from mnist_model.loader import load_model
from mnist_model.model import (
    ARCHITECTURES,
    NOT_A_DIGIT,
    NOT_A_DIGIT_LABEL,
    DigitNet,
    UnknownArchitectureError,
    count_parameters,
    for_inference,
)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_forward_gives_eleven_logits_per_image_ten_without_the_refusal(arch: str) -> None:
    model = DigitNet(arch).eval()
    with torch.no_grad():
        logits = model(torch.rand(5, 1, 28, 28))
        plain = DigitNet(arch, not_a_digit=False).eval()(torch.rand(5, 1, 28, 28))
    assert logits.shape == (5, 11) and plain.shape == (5, 10)
    assert model.labels == [*map(str, range(10)), NOT_A_DIGIT_LABEL] and model.labels[NOT_A_DIGIT] == "not a digit"
    assert torch.isfinite(logits).all()


def test_our_models_are_small_and_the_seed_is_the_tutorials() -> None:
    assert count_parameters(DigitNet("slim")) < count_parameters(DigitNet("compact")) < 1_500_000
    # conv 1->32->64->64 (3x3, unpadded) + linear 64*22*22 -> 10
    assert count_parameters(DigitNet("seed", not_a_digit=False)) == (
        (1 * 32 * 9 + 32) + (32 * 64 * 9 + 64) + (64 * 64 * 9 + 64) + (64 * 22 * 22 * 10 + 10)
    )
    assert DigitNet("seed").members == 1


@pytest.mark.parametrize("members", [1, 2, 3])
def test_an_ensemble_is_the_mean_of_independent_members(members: int) -> None:
    torch.manual_seed(0)
    model = DigitNet("slim", members=members).eval()
    assert count_parameters(model) == members * count_parameters(DigitNet("slim", members=1))
    images = torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        each = model.member_logits(images)
        assert each.shape == (6, members, 11)
        assert torch.allclose(model(images), each.mean(dim=1))
        # a member's answer depends on its own weights only
        last = model.layers[-2] if members > 1 else model.layers[-1]
        last.bias[:11] += 1.0
        after = model.member_logits(images)
    assert torch.allclose(after[:, 0], each[:, 0] + 1.0, atol=1e-5)
    assert torch.equal(after[:, 1:], each[:, 1:])


def test_the_seed_is_one_network() -> None:
    with pytest.raises(UnknownArchitectureError, match="members=1 only"):
        DigitNet("seed", members=2)


def test_unknown_architecture_is_a_clear_error() -> None:
    with pytest.raises(UnknownArchitectureError, match="choose one of: slim, compact, seed"):
        DigitNet("resnet")


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_mixin_round_trip_gives_identical_outputs(arch: str, tmp_path) -> None:
    torch.manual_seed(0)
    model = DigitNet(arch).eval()
    model.save_pretrained(tmp_path)
    assert {"model.safetensors", "config.json"} <= {p.name for p in tmp_path.iterdir()}
    loaded = DigitNet.from_pretrained(tmp_path, strict=True)
    assert loaded.arch == arch and not loaded.training
    images = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(images), loaded(images))


@pytest.mark.slow
def test_the_inference_form_of_the_shipped_model_reads_mnist_as_the_model_does(data_dir: Path) -> None:
    model = load_model().model.eval()
    fast = for_inference(model)
    kinds = {type(layer) for layer in fast.modules()}
    assert nn.BatchNorm2d not in kinds and nn.Dropout not in kinds  # folded, left out
    assert any(isinstance(layer, nn.BatchNorm2d) for layer in model.modules())  # the original untouched
    images = load_mnist(data_dir, train=False)[0][:, None].float() / 255
    with torch.inference_mode():
        expected, got = model(images), fast(images)
        single = torch.cat([fast(image[None]) for image in images[:200]])  # as the app calls it
    assert (got - expected).abs().max() < 1e-4
    assert torch.equal(got.argmax(dim=1), expected.argmax(dim=1))
    assert (single - expected[:200]).abs().max() < 1e-4


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_has_an_inference_form(arch: str) -> None:
    torch.manual_seed(0)
    model = DigitNet(arch).eval()
    images = torch.rand(4, 1, 28, 28)
    with torch.inference_mode():
        assert torch.allclose(for_inference(model)(images), model(images), atol=1e-4)
