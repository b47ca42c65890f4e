"""The training loop: whole dataset on the device, batched augmentation, one-cycle SGD.

Shape of a run: load MNIST as tensors with its digits through other media, synthetic printed
digits and non-digits, and the validation sets (`mnist_model.training_data`); train for a fixed
number of epochs (no early stopping, no picking epochs by the test set), reporting validation
accuracy after each; choose how readily the model refuses on digit styles and media it never
trained on (`mnist_model.calibration`); then measure the test set once. Everything a run
measured goes into `metrics`, which `mnist_model.weights` writes next to the weights.
"""

from __future__ import annotations

import math
import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from tqdm.auto import tqdm

from .augment import random_affine
from .calibration import calibrate
from .data import default_data_dir
from .model import DEFAULT_ARCH, NOT_A_DIGIT, DigitNet, count_parameters
from .training_data import Split, load_splits, synthetic_counts


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in metrics.json)."""

    data_dir: Path = field(default_factory=default_data_dir)
    arch: str = DEFAULT_ARCH
    members: int | None = None  # networks averaged in one module; None: the arch's default
    epochs: int = 30
    batch_size: int = 512
    lr: float = 0.2
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    seed: int = 0
    device: str | None = None
    compile: bool = False
    bf16: bool | None = None  # None: where the hardware computes bf16 natively (see `bf16_helps`)
    limit: int | None = None  # smoke runs: at most this many training, validation and test images
    printed: int = 10000  # synthetic printed digits added to the training set (a tenth more for validation)
    not_digits: int = 25000  # synthetic non-digits, likewise
    media: int = 20000  # MNIST training digits rendered through other media, likewise
    touching: int = 12000  # pieces cut from touching MNIST training digits, likewise
    workers: int | None = None  # processes drawing the synthetic images; None: one a core


@dataclass
class Evaluation:
    """Accuracy of a model on a labelled set, with its confusion matrix (rows: true class, one
    per model class; columns: the model's answer)."""

    accuracy: float
    per_class: list[float]
    confusion: list[list[int]]

    def refused(self, classes: slice | int) -> float:
        """The fraction of the images of `classes` (rows) answered "not a digit"."""
        if len(self.confusion) <= NOT_A_DIGIT:  # a model without the refusal class
            return 0.0
        rows = torch.tensor(self.confusion)[classes].reshape(-1, len(self.confusion))
        return (rows[:, NOT_A_DIGIT].sum() / rows.sum().clamp(min=1)).item()


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

    Elsewhere bf16 is emulated and slower than float32, so it stays off.
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
        return f"CPU: {_cpu_model()}, {torch.get_num_threads()} threads"
    return device.type


def _cpu_model() -> str:
    """The processor's marketing name where Linux tells it, else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
    n = len(model.labels)
    confusion = torch.zeros(n, n, dtype=torch.int64)
    # cuDNN convolutions default to TF32 on recent GPUs; full fp32 keeps the recorded accuracy
    # equal to what the app measures on the CPU.
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        for start in range(0, len(images), batch_size):
            batch = to_float_images(images[start : start + batch_size].to(device))
            predicted = model(batch).argmax(dim=1).cpu()
            truth = labels[start : start + batch_size].cpu()
            confusion += torch.bincount(truth * n + predicted, minlength=n * n).reshape(n, n)
    model.train(was_training)
    per_class = (confusion.diag() / confusion.sum(dim=1).clamp(min=1)).tolist()  # 0 for absent classes
    accuracy = (confusion.diag().sum() / confusion.sum().clamp(min=1)).item()
    return Evaluation(accuracy, per_class, confusion.tolist())


def _accuracy(evaluation: Evaluation, classes: slice) -> float:
    """Accuracy over the images of the rows `classes` only."""
    rows = torch.tensor(evaluation.confusion)[classes]
    return (rows[:, classes].diagonal().sum() / rows.sum().clamp(min=1)).item()


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


def counts(config: TrainConfig) -> dict[str, int]:
    """How many synthetic images of each kind `config` adds to the training set."""
    return synthetic_counts(config.printed, config.not_digits, config.media, config.touching, config.limit)


def train_epoch(
    model: DigitNet,
    member_logits: Callable[[torch.Tensor], torch.Tensor],
    data: Split,
    optimizer: torch.optim.Optimizer,
    schedule: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    config: TrainConfig,
    use_bf16: bool,
    bar: tqdm,
) -> tuple[float, float]:
    """One pass over `data` in shuffled, augmented batches; returns (mean loss, seconds)."""
    images_all, labels_all = data
    device = images_all.device
    model.train()
    order = torch.randperm(len(images_all), device=device, generator=generator)
    loss_sum = torch.zeros((), device=device)
    _synchronize(device)
    started = time.perf_counter()
    for step in range(bar.total):
        index = order[step * config.batch_size : (step + 1) * config.batch_size]
        images = random_affine(to_float_images(images_all[index]), generator=generator)
        images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss = member_loss(member_logits(images), labels_all[index], config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        loss_sum += loss.detach()
        bar.update()
        if step % 20 == 0 and not bar.disable:  # .item() waits for the device: not every step
            rate = (step + 1) * config.batch_size / (time.perf_counter() - started)
            bar.set_postfix(loss=f"{loss.item():.3f}", img_s=f"{rate:.0f}")
    _synchronize(device)
    return loss_sum.item() / bar.total, time.perf_counter() - started


def member_loss(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """The sum of the members' cross-entropies on (N, members, classes) logits: each member
    learns as if it trained alone, and the ensemble averages them afterwards."""
    members = logits.shape[1]
    targets = labels[:, None].expand(-1, members)
    return members * F.cross_entropy(logits.transpose(1, 2), targets, label_smoothing=label_smoothing)


@torch.no_grad()
def _logits(model: DigitNet, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 2000) -> Split:
    """The model's logits on uint8 images, on the CPU, with their labels."""
    model.eval()
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        values = torch.cat([model(to_float_images(images[start : start + batch_size])).float().cpu()
                            for start in range(0, len(images), batch_size)])  # fmt: skip
    return values, labels.cpu()


def calibrated(model: DigitNet, bias: float) -> DigitNet:
    """`model` with its refusal taken down by `bias` (recorded in its config.json)."""
    fresh = DigitNet(model.arch, not_a_digit=model.not_a_digit, members=model.members, refusal_bias=bias)
    fresh.load_state_dict(model.state_dict())
    device = next(model.parameters()).device
    return fresh.to(device, memory_format=torch.channels_last).eval()


def _synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that timings measure the work and not its queueing."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(config: TrainConfig, progress: bool = True) -> TrainResult:
    """Train a `DigitNet` as `config` says and measure it; returns the model on the CPU."""
    commit = git_commit()  # now: the code may change on disk while a long run goes on
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    splits = load_splits(config.data_dir, counts(config), config.seed, config.limit, config.workers, progress)
    splits = {name: (images.to(device), labels.to(device)) for name, (images, labels) in splits.items()}
    train_count = len(splits["train"][0])

    # channels_last speeds up convolutions with cuDNN and with oneDNN on the CPU alike.
    refuses = bool(config.not_digits)
    model = DigitNet(config.arch, not_a_digit=refuses, members=config.members)
    model = model.to(device, memory_format=torch.channels_last)
    member_logits = torch.compile(model.member_logits) if config.compile else model.member_logits
    use_bf16 = bf16_helps(device) if config.bf16 is None else config.bf16
    steps_per_epoch = math.ceil(train_count / config.batch_size)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch
    )

    history = []
    for epoch in range(1, config.epochs + 1):
        description = f"epoch {epoch}/{config.epochs}"
        with tqdm(total=steps_per_epoch, desc=description, unit="batch", leave=False, disable=not progress) as bar:
            loss, seconds = train_epoch(
                model, member_logits, splits["train"], optimizer, schedule, generator, config, use_bf16, bar
            )
        validation = evaluate(model, *splits["validation"])
        history.append({"epoch": epoch, "train_loss": round(loss, 4),
                        "validation_accuracy": validation.accuracy, "seconds": round(seconds, 2)})
        if progress:
            tqdm.write(f"{description}  loss {loss:.4f}  validation {validation.accuracy:.2%}  "
                       f"{train_count / seconds:.0f} img/s")

    calibration = None
    if refuses:
        # the touching pieces are a style training has seen: the bias is chosen on unseen ones
        calibration = calibrate({name: _logits(model, *split) for name, split in splits.items()
                                 if name.startswith("validation") and name != "validation_touching"})  # fmt: skip
        model = calibrated(model, calibration.bias)
    validation, test = evaluate(model, *splits["validation"]), evaluate(model, *splits["test"])
    synthetic = evaluate(model, *splits["validation_synthetic"]) if "validation_synthetic" in splits else None
    touching = evaluate(model, *splits["validation_touching"]) if "validation_touching" in splits else None
    media = {name.removeprefix("validation_"): evaluate(model, *splits[name])
             for name in ("validation_media", "validation_held_out_media") if name in splits}  # fmt: skip
    train_seconds = sum(epoch["seconds"] for epoch in history)
    metrics = {
        "arch": config.arch,
        "members": model.members,
        "parameters": count_parameters(model),
        "test_accuracy": test.accuracy,
        "validation_accuracy": validation.accuracy,
        "per_class_test_accuracy": {str(digit): acc for digit, acc in enumerate(test.per_class[:10])},
        "test_confusion_matrix": test.confusion[:10],  # rows: the digits; columns: every answer
        "test_refused": test.refused(slice(0, 10)),
        "validation_refused": validation.refused(slice(0, 10)),
        "refusal_bias": model.refusal_bias,
        "media_validation": {name: {"accuracy": result.accuracy, "refused": result.refused(slice(0, 10))}
                             for name, result in media.items()},  # fmt: skip
        "epochs": config.epochs,
        "training_seconds": round(train_seconds, 2),
        "images_per_second": round(train_count * config.epochs / train_seconds, 1),
        "synthetic_validation": None if synthetic is None else {
            "printed_digits_accuracy": _accuracy(synthetic, slice(0, 10)),
            "printed_digits_refused": synthetic.refused(slice(0, 10)),
            "not_digits_refused": synthetic.refused(NOT_A_DIGIT) if refuses else 0.0,
        },
        "touching_validation": None if touching is None else {
            "accuracy": touching.accuracy,
            "digits_refused": touching.refused(slice(0, 10)),
            "not_digits_refused": touching.refused(NOT_A_DIGIT),
        },
        "train_images": train_count,
        "synthetic_train_images": counts(config),
        "validation_images": len(splits["validation"][0]),
        "test_images": len(splits["test"][0]),
        "bf16_autocast": use_bf16,
        "device": device.type,
        "device_name": device_name(device),
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "git_commit": commit,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "history": history,
        "refusal_calibration": None if calibration is None else calibration.curve,
    }
    model = model.to("cpu", memory_format=torch.contiguous_format).eval()
    return TrainResult(model=model, metrics=metrics)
