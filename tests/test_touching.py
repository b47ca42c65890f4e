"""The training pieces of touching digits: drawings whose inks really touch, and pieces labelled
by whose ink they hold, as the reader cuts them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_model.data import load_mnist
from mnist_model.decode import as_loaded
from mnist_model.line import find_line
from mnist_model.model import NOT_A_DIGIT
from mnist_model.touching import labelled_pieces, make_touching, write_touching


@pytest.fixture(scope="module")
def mnist(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_mnist(data_dir, train=True)
    return images[:500], labels[:500]


def test_written_digits_touch_and_each_keeps_its_own_ink(mnist) -> None:
    images, _ = mnist
    rng = np.random.default_rng(0)
    for start in range(0, 20, 2):
        image, owners = write_touching([images[start].numpy(), images[start + 1].numpy()], rng)
        assert image.mode == "L" and owners.shape == (2, image.height, image.width)
        ink = np.asarray(image) < 128
        assert np.array_equal(ink, owners.max(axis=0) > 0.5)  # the drawing is the digits' ink, black on white
        assert len(find_line(as_loaded(image)).groups) == 1  # touching: one group of ink


def test_pieces_are_labelled_by_whose_ink_they_hold(mnist) -> None:
    images, labels = mnist
    rng = np.random.default_rng(1)
    image, owners = write_touching([images[0].numpy(), images[1].numpy()], rng)
    pieces = labelled_pieces(image, owners, [int(labels[0]), int(labels[1])], rng)
    assert 0 < len(pieces) <= 4
    for piece, label in pieces:
        share = owners[:, piece.ink.soft > 0.5]  # this drawing's plane is its pixels
        assert label in (int(labels[0]), int(labels[1]), NOT_A_DIGIT)
        if label != NOT_A_DIGIT:  # nearly all of it one digit's, and labelled as that digit
            owner = np.bincount(share.argmax(axis=0), minlength=2)
            assert owner.max() >= 0.8 * owner.sum() and label == int(labels[int(owner.argmax())])


def test_the_pieces_are_mnist_images_of_digits_and_not_digits(mnist) -> None:
    images, labels = mnist
    pieces, piece_labels = make_touching(images, labels, 60, np.random.default_rng(2))
    assert pieces.shape == (60, 28, 28) and pieces.dtype == torch.uint8 and piece_labels.dtype == torch.int64
    assert (pieces.flatten(1).amax(dim=1) == 255).all()  # the MNIST recipe's full strength
    refused = int((piece_labels == NOT_A_DIGIT).sum())
    assert 10 < refused < 50  # both kinds, neither swamping the other
    again, again_labels = make_touching(images, labels, 60, np.random.default_rng(2))
    assert torch.equal(pieces, again) and torch.equal(piece_labels, again_labels)  # one seed, one set
