"""Accuracy on images as users send them, through the exact path the app uses, and refusals.

MNIST test accuracy says little about a digit app: published demos reach ~99% there and 18-40% on
what people draw or upload, because they only resize the canvas. Here every MNIST test digit is
first turned into a realistic user image (`testkit/user_images.py`: Sketchpad canvases and
layers, transparent PNGs, coloured / thin / thick pens, white on black, small off-centre digits,
phone photos), then run through `mnist_model.preprocess.preprocess` and the shipped model.

    python -m benchmarks.user_accuracy                 # 500 digits per kind: ~4 min on one CPU thread
    python -m benchmarks.user_accuracy --per-kind 50   # quick look
    python -m benchmarks.user_accuracy --failures /tmp/failures   # also save failing previews

What MNIST never showed (printed digits, other media and writers, non-digits, empty paper) is
measured by `python -m benchmarks.open_world`.

Two baselines on the very same digits: "raw MNIST" (the 28x28 test tensor itself, i.e. the
reference) and "naive resize" (what most demos do: `convert("L")`, invert dark-on-light input,
resize to 28x28). A blank verdict from `preprocess` counts as an error. The loop is
`testkit.accuracy`'s, which `tests/test_user_images.py` runs on fewer digits.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from mnist_model.data import default_data_dir, load_mnist
from testkit.accuracy import KindResult, classify, kind_rng, pick_digits, run_kind
from testkit.user_images import KINDS

GOAL_OVERALL = 0.985
GOAL_PER_KIND = 0.97


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
            prediction = f"pred{int(classify(model, prepared.tensor.reshape(1, 1, 28, 28).float())[0])}"
        else:
            prediction = "blank"
        sheet.save(folder / f"{kind}_{index}_true{int(labels[index])}_{prediction}.png")

    return keep


def format_table(results: list[KindResult]) -> str:
    """The results as a fixed-width table with an overall row and the goals."""
    header = (
        f"{'kind':20} {'n':>5} {'accuracy':>9} {'refused':>7} {'blank':>6} {'errors':>6} {'naive':>7} {'raw MNIST':>9}"
        f" {'gen ms':>7} {'prep ms':>8} {'model ms':>8}  goal"
    )
    lines = [header, "-" * len(header)]

    def row(name: str, r: KindResult, goal: float) -> str:
        n = max(1, r.n)
        met = "ok" if r.accuracy >= goal else f"BELOW {goal:.1%}"
        return (
            f"{name:20} {r.n:5d} {r.accuracy:9.2%} {r.refused / n:7.2%} {r.blank:6d} {r.errors:6d} {r.naive_correct / n:7.1%}"
            f" {r.raw_correct / n:9.2%} {1000 * r.generate_s / n:7.1f} {1000 * r.preprocess_s / n:8.1f}"
            f" {1000 * r.model_s / max(1, r.n - r.blank - r.errors):8.2f}  {met}"
        )

    for r in results:
        lines.append(row(r.kind, r, GOAL_PER_KIND))
    total = KindResult("overall")
    for r in results:
        for name in ("n", "correct", "refused", "blank", "errors", "naive_correct", "raw_correct"):
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
