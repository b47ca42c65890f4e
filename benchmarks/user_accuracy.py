"""Accuracy on images as users send them, through the exact path the app uses.

MNIST test accuracy says little about a digit app: published demos reach ~99% there and 18-40% on
what people draw or upload, because they only resize the canvas. Here every MNIST test digit is
first turned into a realistic user image (`benchmarks/user_images.py`: Sketchpad canvases and
layers, transparent PNGs, coloured / thin / thick pens, white on black, small off-centre digits,
phone photos), then run through `mnist_model.preprocess.preprocess` and the shipped model.

    python -m benchmarks.user_accuracy                 # 500 digits per kind: ~4 min on one CPU thread
    python -m benchmarks.user_accuracy --per-kind 50   # quick look
    python -m benchmarks.user_accuracy --failures /tmp/failures   # also save failing previews

Two baselines on the very same digits: "raw MNIST" (the 28x28 test tensor itself, i.e. the
reference) and "naive resize" (what most demos do: `convert("L")`, invert dark-on-light input,
resize to 28x28). A blank verdict from `preprocess` counts as an error.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from benchmarks.user_images import KINDS, make_user_image
from mnist_model.data import default_data_dir, load_mnist

GOAL_OVERALL = 0.985
GOAL_PER_KIND = 0.97
LIGHT_ON_DARK_KINDS = frozenset({"white_on_black"})  # the naive baseline does not invert these


@dataclass
class Failure:
    index: int  # in the MNIST test set
    label: int
    predicted: int | None  # None: preprocess called it blank, or raised
    error: str | None = None


@dataclass
class KindResult:
    kind: str
    n: int = 0
    correct: int = 0
    blank: int = 0
    errors: int = 0  # preprocess raised
    naive_correct: int = 0
    raw_correct: int = 0
    generate_s: float = 0.0
    preprocess_s: float = 0.0
    model_s: float = 0.0
    failures: list[Failure] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / max(1, self.n)


def pick_digits(n_test: int, kinds: Sequence[str], per_kind: int, seed: int) -> dict[str, np.ndarray]:
    """Disjoint test indices for each kind (they wrap around once all 10,000 are used)."""
    order = np.random.default_rng(seed).permutation(n_test)
    return {kind: order[(i * per_kind + np.arange(per_kind)) % n_test] for i, kind in enumerate(kinds)}


def kind_rng(seed: int, kind: str) -> np.random.Generator:
    """One generator per (seed, kind): a kind's images do not depend on which other kinds run."""
    return np.random.default_rng([seed, KINDS.index(kind)])


def naive_resize(image: Image.Image | dict[str, Any], kind: str) -> torch.Tensor:
    """What most MNIST demos do with their input: grey, invert dark-on-light, squash to 28x28.

    A Sketchpad dict gives its "composite", or its first layer when there is none.
    """
    if isinstance(image, dict):
        image = image["composite"] if image["composite"] is not None else image["layers"][0]
    grey = image.convert("L")
    if kind not in LIGHT_ON_DARK_KINDS:
        grey = ImageOps.invert(grey)
    pixels = np.asarray(grey.resize((28, 28)), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels)[None]


def _predict(model: torch.nn.Module, batch: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return model(batch).argmax(dim=1).numpy()


def run_kind(
    kind: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    indices: np.ndarray,
    model: torch.nn.Module,
    preprocess: Callable[[Any], Any],
    rng: np.random.Generator,
    keep: Callable[[int, Any, Any], None] | None = None,
) -> KindResult:
    """Generate, preprocess and classify one image per index; `keep(index, image, prepared)` sees failures."""
    result = KindResult(kind)
    naive, truth = [], []
    for index in indices.tolist():
        label = int(labels[index])
        started = time.perf_counter()
        image = make_user_image(images[index].numpy(), kind, rng)
        result.generate_s += time.perf_counter() - started
        naive.append(naive_resize(image, kind))
        truth.append(label)
        result.n += 1

        started = time.perf_counter()
        try:
            prepared = preprocess(image)
        except Exception as error:  # noqa: BLE001 - a crash on a user image is a failure we report
            result.preprocess_s += time.perf_counter() - started
            result.errors += 1
            result.failures.append(Failure(index, label, None, f"{type(error).__name__}: {error}"))
            continue
        result.preprocess_s += time.perf_counter() - started
        if prepared.is_blank or prepared.tensor is None:
            result.blank += 1
            result.failures.append(Failure(index, label, None))
            if keep is not None:
                keep(index, image, prepared)
            continue
        started = time.perf_counter()
        predicted = int(_predict(model, prepared.tensor.reshape(1, 1, 28, 28).float())[0])
        result.model_s += time.perf_counter() - started
        if predicted == label:
            result.correct += 1
        else:
            result.failures.append(Failure(index, label, predicted))
            if keep is not None:
                keep(index, image, prepared)
    truth_array = np.array(truth)
    result.naive_correct = int((_predict(model, torch.stack(naive)) == truth_array).sum())
    raw = images[torch.from_numpy(indices)].float().div(255.0).unsqueeze(1)
    result.raw_correct = int((_predict(model, raw) == truth_array).sum())
    return result


def _preview_image(preview: Any) -> Image.Image | None:
    if preview is None:
        return None
    if isinstance(preview, Image.Image):
        return preview
    array = preview.detach().cpu().numpy() if isinstance(preview, torch.Tensor) else np.asarray(preview)
    array = np.squeeze(array)
    if array.dtype != np.uint8:
        array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return Image.fromarray(array)


def failure_saver(
    folder: Path, kind: str, labels: torch.Tensor, model: torch.nn.Module
) -> Callable[[int, Any, Any], None]:
    """A `keep` callback writing input (left) and preview (right) side by side for each failure."""
    folder.mkdir(parents=True, exist_ok=True)

    def keep(index: int, image: Any, prepared: Any) -> None:
        if isinstance(image, dict):
            image = image["layers"][0]
        shown = Image.alpha_composite(
            Image.new("RGBA", image.size, (190, 220, 255, 255)), image.convert("RGBA")
        ).convert("RGB")  # transparency shows as light blue
        shown.thumbnail((280, 280))
        sheet = Image.new("RGB", (580, 280), (128, 128, 128))
        sheet.paste(shown, (0, 0))
        preview = _preview_image(getattr(prepared, "preview", None))
        if preview is not None:
            sheet.paste(preview.convert("RGB").resize((280, 280), Image.Resampling.NEAREST), (300, 0))
        if prepared.tensor is not None:
            prediction = f"pred{int(_predict(model, prepared.tensor.reshape(1, 1, 28, 28).float())[0])}"
        else:
            prediction = "blank"
        sheet.save(folder / f"{kind}_{index}_true{int(labels[index])}_{prediction}.png")

    return keep


def format_table(results: list[KindResult]) -> str:
    """The results as a fixed-width table with an overall row and the goals."""
    header = (
        f"{'kind':20} {'n':>5} {'accuracy':>9} {'blank':>6} {'errors':>6} {'naive':>7} {'raw MNIST':>9}"
        f" {'gen ms':>7} {'prep ms':>8} {'model ms':>8}  goal"
    )
    lines = [header, "-" * len(header)]

    def row(name: str, r: KindResult, goal: float) -> str:
        n = max(1, r.n)
        met = "ok" if r.accuracy >= goal else f"BELOW {goal:.1%}"
        return (
            f"{name:20} {r.n:5d} {r.accuracy:9.2%} {r.blank:6d} {r.errors:6d} {r.naive_correct / n:7.1%}"
            f" {r.raw_correct / n:9.2%} {1000 * r.generate_s / n:7.1f} {1000 * r.preprocess_s / n:8.1f}"
            f" {1000 * r.model_s / max(1, r.n - r.blank - r.errors):8.2f}  {met}"
        )

    for r in results:
        lines.append(row(r.kind, r, GOAL_PER_KIND))
    total = KindResult("overall")
    for r in results:
        for name in ("n", "correct", "blank", "errors", "naive_correct", "raw_correct"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        for name in ("generate_s", "preprocess_s", "model_s"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
    lines.append("-" * len(header))
    lines.append(row("overall", total, GOAL_OVERALL))
    worst = min(results, key=lambda r: r.accuracy)
    lines.append(
        f"goals: overall >= {GOAL_OVERALL:.1%} ({'met' if total.accuracy >= GOAL_OVERALL else 'NOT met'}), "
        f"every kind >= {GOAL_PER_KIND:.0%} ({'met' if worst.accuracy >= GOAL_PER_KIND else 'NOT met'}: "
        f"worst {worst.kind} {worst.accuracy:.2%})"
    )
    lines.append(
        "naive = convert('L') + invert + resize((28, 28)); raw MNIST = the same digits' 28x28 test tensors; "
        "ms are per image (model: one image at a time)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-kind", type=int, default=500, help="test digits per kind (default 500)")
    parser.add_argument("--seed", type=int, default=0, help="which digits and which random images (default 0)")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding MNIST/raw")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), metavar="KIND",
                        help=f"a subset of: {' '.join(KINDS)}")  # fmt: skip
    parser.add_argument("--model", help="weights folder or OWNER/NAME[@REV] (default: the shipped weights/)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--failures", type=Path, help="save input + preview PNGs of each failure here")
    args = parser.parse_args(argv)
    if args.per_kind < 1:
        parser.error("--per-kind must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)

    from mnist_model.loader import load_model
    from mnist_model.preprocess import preprocess

    loaded = load_model(args.model)
    model = loaded.model.eval()
    images, labels = load_mnist(args.data_dir, train=False)
    chosen = pick_digits(len(images), args.kinds, args.per_kind, args.seed)
    print(
        f"model: {loaded.source}; {args.per_kind} MNIST test digits per kind, seed {args.seed}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
    )
    results = []
    for kind in args.kinds:
        keep = failure_saver(args.failures, kind, labels, model) if args.failures else None
        result = run_kind(kind, images, labels, chosen[kind], model, preprocess, kind_rng(args.seed, kind), keep)
        results.append(result)
        print(f"  {kind:20} {result.accuracy:7.2%}  ({len(result.failures)} failures)", flush=True)
        for failure in result.failures[:3]:
            if failure.error:
                print(f"    index {failure.index}: {failure.error}")
    print()
    print(format_table(results))
    misses = {r.kind: r.failures for r in results if r.failures}
    if misses:
        print("\nfailures (test index: true -> predicted, '-' = blank or error):")
        for kind, failures in misses.items():
            shown = ", ".join(
                f"{f.index}:{f.label}->{'-' if f.predicted is None else f.predicted}" for f in failures[:12]
            )
            more = f" ... +{len(failures) - 12}" if len(failures) > 12 else ""
            print(f"  {kind}: {shown}{more}")


if __name__ == "__main__":
    main()
