"""What a training run learns from and checks itself on, as uint8 tensors on the device.

- `train`: MNIST's training images; as many again of them (`media`) rendered through other
  pens, papers, scanners and cameras (`mnist_model.media.MEDIA`); digits typed in print and
  handwriting faces and things that are not digits (`mnist_model.synthetic`, training fonts);
- `validation`: MNIST's validation split, which reports each epoch;
- `validation_media`, `validation_held_out_media`: validation digits through the training media,
  and through a medium training never uses;
- `validation_synthetic`: printed digits in fonts training never uses, and non-digits;
- `test`: MNIST's test set, evaluated once at the end, choosing nothing.

The three last validation sets are what the refusal's calibration (`mnist_model.calibration`)
looks at: digit styles and media the weights have not seen. Every synthetic image is made by
the app's own preprocessing, so the model learns from exactly what it is later shown.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import VALIDATION_SIZE, load_mnist, split_train_validation
from .media import HELD_OUT_MEDIA, MEDIA, render
from .synthetic import make_synthetic, mnist_format

MNIST_TRAIN_IMAGES = 60_000 - VALIDATION_SIZE
Split = tuple[torch.Tensor, torch.Tensor]  # (uint8 images [N, 28, 28], labels [N])


def synthetic_counts(printed: int, not_digits: int, media: int, limit: int | None) -> dict[str, int]:
    """How many synthetic images of each kind join the training set; smoke runs (`limit`) keep
    the full run's mix."""
    share = min(1.0, limit / MNIST_TRAIN_IMAGES) if limit else 1.0
    wanted = {"printed_digits": printed, "not_digits": not_digits, "media_digits": media}
    return {name: max(1, round(count * share)) if count else 0 for name, count in wanted.items()}


def load_splits(
    data_dir: str, counts: dict[str, int], seed: int, limit: int | None, progress: bool = True
) -> dict[str, Split]:
    """Every set a run uses (see the module's docstring), cut to `limit` images of MNIST."""
    train_set, validation_set = split_train_validation(*load_mnist(data_dir, train=True))
    splits = {"train": train_set, "validation": validation_set, "test": load_mnist(data_dir, train=False)}
    splits = {name: (images[:limit], labels[:limit]) for name, (images, labels) in splits.items()}
    extra = []
    if counts["media_digits"]:
        rng = np.random.default_rng([seed, 3])
        extra.append(render_digits(*splits["train"], counts["media_digits"], MEDIA, rng, progress))
        validation_count = max(1, counts["media_digits"] // 10)
        splits["validation_media"] = render_digits(*splits["validation"], validation_count, MEDIA, rng, progress)
        splits["validation_held_out_media"] = render_digits(
            *splits["validation"], max(1, validation_count // 3), HELD_OUT_MEDIA, rng, progress
        )
    if counts["printed_digits"] or counts["not_digits"]:
        printed, not_digits = counts["printed_digits"], counts["not_digits"]
        extra.append(make_synthetic(printed, not_digits, np.random.default_rng([seed, 1]), progress=progress))
        splits["validation_synthetic"] = make_synthetic(
            printed // 10, not_digits // 10, np.random.default_rng([seed, 2]), role="validation", progress=progress
        )
    splits["train"] = tuple(torch.cat(parts) for parts in zip(splits["train"], *extra))
    return splits


def render_digits(
    images: torch.Tensor, labels: torch.Tensor, count: int, media: tuple[str, ...], rng: np.random.Generator,
    progress: bool = False,
) -> Split:
    """`count` of the MNIST `images`, drawn at random, each through a random one of `media` and
    the app's preprocessing, as uint8 MNIST-format images with their labels."""
    chosen = torch.from_numpy(rng.choice(len(images), size=count, replace=count > len(images)))
    picked = images[chosen].numpy()
    out = np.zeros((count, 28, 28), np.uint8)
    for i in tqdm(range(count), desc=f"rendering digits through {len(media)} media", unit="image", leave=False,
                  disable=not progress):  # fmt: skip
        out[i] = mnist_format(partial(render, picked[i], media[rng.integers(len(media))], rng))
    return torch.from_numpy(out), labels[chosen].clone()
