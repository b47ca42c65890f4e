"""MNIST as whole tensors, and the validation split carved out of the training set.

The training loop never touches PIL: `load_mnist` returns every image of a split as one uint8
tensor, which the trainer moves to its device once and batches by indexing. Reading goes through
`torchvision.datasets.MNIST`, so the usual `<root>/MNIST/raw` layout is used and, where the files
are absent, torchvision downloads them as usual. Offline, the failure is one sentence that says
where we looked and how to point at a folder that holds the files.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torchvision.datasets import MNIST

DATA_DIR_ENV = "MNIST_DATA_DIR"
VALIDATION_SIZE = 5000


class DataNotFoundError(RuntimeError):
    """MNIST is neither on disk nor downloadable."""


def default_data_dir() -> Path:
    """`$MNIST_DATA_DIR` if set, else `data/` in the working directory."""
    return Path(os.environ.get(DATA_DIR_ENV, "data"))


def load_mnist(root: str | Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (images uint8 [N, 28, 28], labels int64 [N]) of the training or test split."""
    root = Path(root)
    try:
        dataset = MNIST(root, train=train, download=False)
    except RuntimeError:
        try:
            dataset = MNIST(root, train=train, download=True)
        except Exception as error:  # noqa: BLE001 - any download failure means the same to the user
            _remove_empty_folders(root / "MNIST" / "raw", up_to=root)
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            reason = lines[-1] if lines else type(error).__name__
            raise DataNotFoundError(
                f"MNIST is not in {(root / 'MNIST' / 'raw').resolve()} and downloading it failed "
                f"({reason}); point --data-dir or ${DATA_DIR_ENV} at a folder that holds MNIST/raw."
            ) from None
    return dataset.data, dataset.targets


def _remove_empty_folders(folder: Path, up_to: Path) -> None:
    """Undo the empty folders a failed download created, from `folder` up to `up_to` included."""
    for path in [folder, *folder.parents]:
        try:
            path.rmdir()  # only succeeds on an empty folder
        except OSError:
            return
        if path == up_to:
            return


def split_train_validation(
    images: torch.Tensor, labels: torch.Tensor, validation_size: int = VALIDATION_SIZE, seed: int = 0
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Split the training set into (train, validation) with a fixed permutation.

    The validation split is what any choice (epochs, learning rate) may look at; the test set
    is only ever used to report the final number.
    """
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    val, train = order[:validation_size], order[validation_size:]
    return (images[train], labels[train]), (images[val], labels[val])
