"""What a run trains and validates on: every kind of image there, labelled, in MNIST's format,
and the same images whatever the number of drawing processes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mnist_model import training_data
from mnist_model.model import NOT_A_DIGIT
from mnist_model.training_data import load_splits, synthetic_counts

pytestmark = pytest.mark.slow  # drawing in spawned worker processes


def test_splits_hold_every_kind_and_are_the_same_for_any_number_of_workers(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(training_data, "CHUNK", 50)  # several chunks of every kind, from few images
    counts = {"printed_digits": 60, "not_digits": 80, "media_digits": 120, "touching_pieces": 70}
    one = load_splits(str(data_dir), counts, seed=3, limit=600, workers=1, progress=False)
    two = load_splits(str(data_dir), counts, seed=3, limit=600, workers=2, progress=False)
    assert set(one) == {"train", "validation", "test", "validation_media", "validation_held_out_media",
                        "validation_synthetic", "validation_touching"}  # fmt: skip
    for name, (images, labels) in one.items():
        assert torch.equal(images, two[name][0]) and torch.equal(labels, two[name][1]), name
        assert images.dtype == torch.uint8 and images.shape[1:] == (28, 28) and len(images) == len(labels)
    images, labels = one["train"]
    assert len(images) == 600 + sum(counts.values())
    assert int((labels[600 : 600 + 120] == NOT_A_DIGIT).sum()) == 0  # the media digits come first ...
    assert int((labels[600 + 120 : 600 + 260] == NOT_A_DIGIT).sum()) == 80  # ... then the synthetic ones
    touching = labels[600 + 260 :]
    assert len(touching) == 70 and 0 < int((touching == NOT_A_DIGIT).sum()) < 70  # pieces: digits and not
    assert len(one["validation_touching"][0]) == 7
    assert len(one["validation_media"][0]) == 12
    assert (one["validation_media"][1] != NOT_A_DIGIT).all()
    assert (one["train"][0][600:].flatten(1).amax(dim=1) == 255).all()  # drawn at MNIST's full strength


def test_smoke_runs_keep_the_full_runs_mix() -> None:
    full = synthetic_counts(10000, 25000, 20000, 12000, None)
    small = synthetic_counts(10000, 25000, 20000, 12000, 5500)
    assert full == {"printed_digits": 10000, "not_digits": 25000, "media_digits": 20000, "touching_pieces": 12000}
    assert small == {"printed_digits": 1000, "not_digits": 2500, "media_digits": 2000, "touching_pieces": 1200}
