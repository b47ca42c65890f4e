"""What a training run learns from and checks itself on, as uint8 tensors on the device.

- `train`: MNIST's training images; as many again of them (`media`) rendered through other
  pens, papers, scanners and cameras (`mnist_model.media.MEDIA`); digits typed in print and
  handwriting faces and things that are not digits (`mnist_model.synthetic`, training fonts);
  the pieces the number reader cuts from touching MNIST digits (`mnist_model.touching`);
- `validation`: MNIST's validation split, which reports each epoch;
- `validation_media`, `validation_held_out_media`: validation digits through the training media,
  and through a medium training never uses;
- `validation_synthetic`: printed digits in fonts training never uses, and non-digits;
- `validation_touching`: pieces cut from touching validation digits, which report how well the
  model tells a digit from two joined or half of one;
- `test`: MNIST's test set, evaluated once at the end, choosing nothing.

The three last validation sets are what the refusal's calibration (`mnist_model.calibration`)
looks at: digit styles and media the weights have not seen. Every synthetic image is made by
the app's own preprocessing, so the model learns from exactly what it is later shown.

Drawing is the slow part of a run on a GPU machine, so it runs in worker processes, in chunks
of `CHUNK` images each drawn from its own random stream: the images are the same whatever the
number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import cache, partial

import numpy as np
import torch
from tqdm.auto import tqdm

from .data import VALIDATION_SIZE, load_mnist, split_train_validation
from .media import HELD_OUT_MEDIA, MEDIA, render
from .synthetic import make_synthetic, mnist_format
from .touching import make_touching

MNIST_TRAIN_IMAGES = 60_000 - VALIDATION_SIZE
CHUNK = 500  # images drawn from one random stream, by one worker
Split = tuple[torch.Tensor, torch.Tensor]  # (uint8 images [N, 28, 28], labels [N])


def synthetic_counts(
    printed: int, not_digits: int, media: int, touching: int, limit: int | None
) -> dict[str, int]:
    """How many synthetic images of each kind join the training set; smoke runs (`limit`) keep
    the full run's mix."""
    share = min(1.0, limit / MNIST_TRAIN_IMAGES) if limit else 1.0
    wanted = {"printed_digits": printed, "not_digits": not_digits, "media_digits": media, "touching_pieces": touching}
    return {name: max(1, round(count * share)) if count else 0 for name, count in wanted.items()}


def load_splits(
    data_dir: str, counts: dict[str, int], seed: int, limit: int | None, workers: int | None = None,
    progress: bool = True,
) -> dict[str, Split]:
    """Every set a run uses (see the module's docstring), cut to `limit` images of MNIST; drawn
    by `workers` processes (default: one a core), which are spawned: a script that calls this
    does so under `if __name__ == "__main__":`, as `multiprocessing` needs."""
    splits = {name: _mnist(data_dir, name, limit) for name in ("train", "validation", "test")}
    media, printed, not_digits = counts["media_digits"], counts["printed_digits"], counts["not_digits"]
    jobs: dict[str, tuple[Callable[..., Split], int, int]] = {}  # name -> (draw(start, count, rng), count, stream)
    if media:
        digits = partial(_rendered, data_dir, limit=limit)  # workers read MNIST themselves: no copy to send
        jobs["train_media"] = (partial(digits, "train", MEDIA), media, 3)
        jobs["validation_media"] = (partial(digits, "validation", MEDIA), media // 10, 4)
        jobs["validation_held_out_media"] = (partial(digits, "validation", HELD_OUT_MEDIA), media // 30, 5)
    if counts.get("touching_pieces"):
        pieces = partial(_touching, data_dir, limit=limit)
        jobs["train_touching"] = (partial(pieces, "train"), counts["touching_pieces"], 6)
        jobs["validation_touching"] = (partial(pieces, "validation"), counts["touching_pieces"] // 10, 7)
    if printed or not_digits:
        share = printed / (printed + not_digits)
        jobs["train_synthetic"] = (partial(_synthetic, share, "training"), printed + not_digits, 1)
        jobs["validation_synthetic"] = (partial(_synthetic, share, "validation"), (printed + not_digits) // 10, 2)
    drawn = _draw_all(jobs, seed, workers or os.cpu_count() or 1, progress)
    extra = [drawn.pop(name) for name in ("train_media", "train_synthetic", "train_touching") if name in drawn]
    splits["train"] = tuple(torch.cat(parts) for parts in zip(splits["train"], *extra))
    return {**splits, **drawn}


@cache
def _mnist(data_dir: str, split: str, limit: int | None) -> Split:
    """MNIST's "train" (less the validation split), "validation" or "test" images, cut to `limit`."""
    if split == "test":
        images, labels = load_mnist(data_dir, train=False)
    else:
        images, labels = split_train_validation(*load_mnist(data_dir, train=True))[split == "validation"]
    return images[:limit], labels[:limit]


def _rendered(
    data_dir: str, split: str, media: tuple[str, ...], start: int, count: int, rng: np.random.Generator,
    limit: int | None,
) -> Split:
    return render_digits(*_mnist(data_dir, split, limit), count, rng, media)


def _touching(data_dir: str, split: str, start: int, count: int, rng: np.random.Generator, limit: int | None) -> Split:
    return make_touching(*_mnist(data_dir, split, limit), count, rng)


def _synthetic(printed_share: float, role: str, start: int, count: int, rng: np.random.Generator) -> Split:
    """Images `start` to `start + count` of a job: printed digits in `printed_share` of them, the
    rounding carried from chunk to chunk so that the job's total is exact."""
    printed = round((start + count) * printed_share) - round(start * printed_share)
    return make_synthetic(printed, count - printed, rng, role=role)


def _draw_all(
    jobs: dict[str, tuple[Callable[..., Split], int, int]], seed: int, workers: int, progress: bool
) -> dict[str, Split]:
    """Each job's images, drawn chunk by chunk (chunk i of stream s from the stream [seed, s, i])."""
    chunks = [(name, partial(draw, start), min(CHUNK, count - start), (seed, stream, start // CHUNK))
              for name, (draw, count, stream) in jobs.items() for start in range(0, max(count, 1), CHUNK)]  # fmt: skip
    total = sum(size for _, _, size, _ in chunks)
    bar = tqdm(total=total, desc="drawing digits through media, printed digits, non-digits and touching digits", unit="image",
               leave=False, disable=not progress)  # fmt: skip
    parts: dict[str, list[Split]] = {name: [] for name in jobs}
    pool = None
    if workers > 1 and len(chunks) > 1:  # spawned: forking a process that holds torch's threads can hang
        pool = ProcessPoolExecutor(min(workers, len(chunks)), mp_context=multiprocessing.get_context("spawn"))
    try:
        calls = [(draw, size, stream) for _, draw, size, stream in chunks]
        results = pool.map(_draw_chunk, calls) if pool else map(_draw_chunk, calls)
        for (name, _, size, _), result in zip(chunks, results):
            parts[name].append(result)
            bar.update(size)
    finally:
        bar.close()
        if pool:
            pool.shutdown()
    return {name: tuple(torch.cat(column) for column in zip(*chunk_list)) for name, chunk_list in parts.items()}


def _draw_chunk(call: tuple[Callable[..., Split], int, tuple[int, int, int]]) -> Split:
    draw, size, stream = call
    if size <= 0:
        return torch.zeros((0, 28, 28), dtype=torch.uint8), torch.zeros(0, dtype=torch.int64)
    return draw(size, np.random.default_rng(list(stream)))


def render_digits(
    images: torch.Tensor, labels: torch.Tensor, count: int, rng: np.random.Generator, media: tuple[str, ...]
) -> Split:
    """`count` of the MNIST `images`, drawn at random, each through a random one of `media` and
    the app's preprocessing, as uint8 MNIST-format images with their labels."""
    chosen = torch.from_numpy(rng.choice(len(images), size=count, replace=count > len(images)))
    picked = images[chosen].numpy()
    out = np.zeros((count, 28, 28), np.uint8)
    for i in range(count):
        out[i] = mnist_format(partial(render, picked[i], media[rng.integers(len(media))], rng))
    return torch.from_numpy(out), labels[chosen].clone()
