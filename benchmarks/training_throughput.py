"""The tutorial's training recipe against the project's default pipeline, on one machine.

The tutorial: `--arch seed`, `ToTensor` through a plain `DataLoader` (batch 32, no shuffle),
Adam at 1e-3 for 10 epochs. The default pipeline: `mnist_model.training.train` with its defaults
(slim network, whole set as one tensor, batched augmentation, one-cycle SGD).

    python -m benchmarks.training_throughput --steps 200   # throughput only, a minute or two
    python -m benchmarks.training_throughput               # full runs: accuracy and wall time

Both run in this one process, one after the other, so the ratio compares like with like.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from mnist_model.data import default_data_dir, load_mnist
from mnist_model.model import DigitNet
from mnist_model.training import TrainConfig, device_name, evaluate, pick_device, train

TUTORIAL_BATCH = 32
TUTORIAL_EPOCHS = 10


def tutorial(data_dir: Path, device: torch.device, steps: int | None) -> dict:
    """The tutorial's loop, as written there; `steps` stops it early to measure throughput."""
    torch.manual_seed(0)
    dataset = datasets.MNIST(data_dir, train=True, download=True, transform=transforms.ToTensor())
    loader = DataLoader(dataset, batch_size=TUTORIAL_BATCH)
    model = DigitNet("seed").to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images_seen, started = 0, time.perf_counter()
    for _ in range(1 if steps else TUTORIAL_EPOCHS):
        for step, (images, labels) in enumerate(loader):
            if steps and step == steps:
                break
            images, labels = images.to(device), labels.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            images_seen += len(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    test_images, test_labels = load_mnist(data_dir, train=False)
    accuracy = None if steps else evaluate(model, test_images.to(device), test_labels).accuracy
    return {"images_per_second": images_seen / seconds, "training_seconds": seconds, "test_accuracy": accuracy}


def default_pipeline(data_dir: Path, device: torch.device, steps: int | None) -> dict:
    config = TrainConfig(data_dir=data_dir, device=str(device))
    if steps:
        config.epochs, config.limit = 1, steps * config.batch_size
    metrics = train(config, progress=False).metrics
    return {key: metrics[key] for key in ("images_per_second", "training_seconds", "test_accuracy")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--device", help="default: the best one available")
    parser.add_argument("--steps", type=int, help="measure throughput alone over this many steps of each")
    args = parser.parse_args()
    device = pick_device(args.device)
    print(f"device: {device_name(device)}; torch {torch.__version__}")
    rows = {
        "tutorial (seed, DataLoader, batch 32)": tutorial(args.data_dir, device, args.steps),
        "default pipeline (slim)": default_pipeline(args.data_dir, device, args.steps),
    }
    print(f"{'':40} {'images/s':>10} {'train s':>9} {'test acc':>9}")
    for name, row in rows.items():
        accuracy = "-" if row["test_accuracy"] is None or args.steps else f"{row['test_accuracy']:.2%}"
        print(f"{name:40} {row['images_per_second']:10.0f} {row['training_seconds']:9.1f} {accuracy:>9}")
    base, ours = rows.values()
    print(f"throughput ratio (default / tutorial): {ours['images_per_second'] / base['images_per_second']:.1f}x")


if __name__ == "__main__":
    main()
