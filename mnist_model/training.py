"""The training loop: whole dataset on the device, batched augmentation, one-cycle SGD.

Shape of a run: load MNIST as tensors, carve the validation split, train for a fixed number of
epochs (no early stopping, no picking epochs by the test set), report validation accuracy after
each epoch and test accuracy once at the end. Everything a run measured goes into `metrics`, which
`mnist_model.weights` writes next to the weights.
"""

from __future__ import annotations

import math
import platform
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from tqdm.auto import tqdm

from .augment import random_affine
from .data import default_data_dir, load_mnist, split_train_validation
from .model import DEFAULT_ARCH, DigitNet, count_parameters


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in metrics.json)."""

    data_dir: Path = field(default_factory=default_data_dir)
    arch: str = DEFAULT_ARCH
    epochs: int = 20
    batch_size: int = 256
    lr: float = 0.1
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    seed: int = 0
    device: str | None = None
    compile: bool = False
    bf16: bool | None = None  # None: where the hardware computes bf16 natively (see `bf16_helps`)
    limit: int | None = None  # smoke runs: at most this many training, validation and test images


@dataclass
class Evaluation:
    """Accuracy of a model on a labelled set, with its confusion matrix (rows: true class)."""

    accuracy: float
    per_class: list[float]
    confusion: list[list[int]]


@dataclass
class TrainResult:
    model: DigitNet
    metrics: dict


def pick_device(requested: str | None = None) -> torch.device:
    """The requested device, else CUDA, then Apple's MPS, then the CPU."""
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for, but PyTorch sees no CUDA GPU here")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bf16_helps(device: torch.device) -> bool:
    """Whether bf16 autocast pays off: CUDA GPUs with bf16, and CPUs with AVX512-BF16 or AMX.

    On a 2-core AVX512-BF16 CPU it made the compact model train 1.7x faster (benchmarks/README.md);
    elsewhere bf16 is emulated and slower, so it stays off.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, check, lambda: False)() for check in checks)
    return False


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    return device.type


def to_float_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float [N, 1, 28, 28] in [0, 1], like `ToTensor` does."""
    return images.unsqueeze(1).float().div_(255)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 2000
) -> Evaluation:
    """Accuracy of `model` on uint8 images, computed on the model's device."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    confusion = torch.zeros(10, 10, dtype=torch.int64)
    for start in range(0, len(images), batch_size):
        batch = to_float_images(images[start : start + batch_size].to(device))
        predicted = model(batch).argmax(dim=1).cpu()
        truth = labels[start : start + batch_size].cpu()
        confusion += torch.bincount(truth * 10 + predicted, minlength=100).reshape(10, 10)
    model.train(was_training)
    per_class = (confusion.diag() / confusion.sum(dim=1).clamp(min=1)).tolist()
    accuracy = (confusion.diag().sum() / confusion.sum().clamp(min=1)).item()
    return Evaluation(accuracy, per_class, confusion.tolist())


def git_commit() -> str | None:
    """The commit the code was run from (with "-dirty" for uncommitted changes), if known."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def train(config: TrainConfig, progress: bool = True) -> TrainResult:
    """Train a `DigitNet` as `config` says and measure it; returns the model on the CPU."""
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)

    train_images, train_labels = load_mnist(config.data_dir, train=True)
    test_images, test_labels = load_mnist(config.data_dir, train=False)
    (train_images, train_labels), (val_images, val_labels) = split_train_validation(
        train_images, train_labels
    )
    if config.limit is not None:
        train_images, train_labels = train_images[: config.limit], train_labels[: config.limit]
        val_images, val_labels = val_images[: config.limit], val_labels[: config.limit]
        test_images, test_labels = test_images[: config.limit], test_labels[: config.limit]
    train_images, train_labels = train_images.to(device), train_labels.to(device)
    val_images, test_images = val_images.to(device), test_images.to(device)

    model = DigitNet(config.arch).to(device)
    use_cuda = device.type == "cuda"
    use_bf16 = bf16_helps(device) if config.bf16 is None else config.bf16
    # channels_last speeds up convolutions with cuDNN and with oneDNN on the CPU alike (measured).
    model = model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if config.compile else model

    steps_per_epoch = math.ceil(len(train_images) / config.batch_size)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=max(config.epochs, 1), steps_per_epoch=steps_per_epoch
    )

    history = []
    train_seconds = 0.0
    images_seen = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(len(train_images), device=device, generator=generator)
        bar = tqdm(
            range(steps_per_epoch), desc=f"epoch {epoch}/{config.epochs}", disable=not progress,
            unit="batch", leave=False,
        )
        loss_sum = torch.zeros((), device=device)
        if use_cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        for step in bar:
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            images = random_affine(to_float_images(train_images[index]), generator=generator)
            images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                loss = F.cross_entropy(
                    step_model(images), train_labels[index], label_smoothing=config.label_smoothing
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.detach()
            if progress and step % 20 == 0:
                seconds = time.perf_counter() - started
                bar.set_postfix(
                    loss=f"{loss.item():.3f}", img_s=f"{(step + 1) * config.batch_size / seconds:.0f}"
                )
        if use_cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        train_seconds += seconds
        images_seen += len(train_images)
        validation = evaluate(model, val_images, val_labels)
        history.append(
            {
                "epoch": epoch,
                "train_loss": round(loss_sum.item() / steps_per_epoch, 4),
                "validation_accuracy": validation.accuracy,
                "seconds": round(seconds, 2),
            }
        )
        if progress:
            tqdm.write(
                f"epoch {epoch}/{config.epochs}  loss {history[-1]['train_loss']:.4f}  "
                f"validation {validation.accuracy:.2%}  {len(train_images) / seconds:.0f} img/s"
            )

    validation = evaluate(model, val_images, val_labels)
    test = evaluate(model, test_images, test_labels)
    metrics = {
        "arch": config.arch,
        "parameters": count_parameters(model),
        "test_accuracy": test.accuracy,
        "validation_accuracy": validation.accuracy,
        "per_class_test_accuracy": {str(digit): acc for digit, acc in enumerate(test.per_class)},
        "test_confusion_matrix": test.confusion,
        "epochs": config.epochs,
        "training_seconds": round(train_seconds, 2),
        "images_per_second": round(images_seen / train_seconds, 1) if train_seconds else None,
        "train_images": len(train_images),
        "validation_images": len(val_images),
        "test_images": len(test_images),
        "bf16_autocast": use_bf16,
        "device": device.type,
        "device_name": device_name(device),
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "git_commit": git_commit(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "history": history,
    }
    model = model.to("cpu", memory_format=torch.contiguous_format).eval()
    return TrainResult(model=model, metrics=metrics)
