"""Whole numbers as users write them, read through the app's number path: accuracy and latency.

People write a year, a price, a phone number, not one digit. Here every number is 2-8 MNIST test
digits written left to right by `testkit/user_numbers.py` (Sketchpad canvases and layers,
Gradio's default brush, coloured / thin / thick pens, phone photos of paper; heights, gaps and
the line's slope varied), then read as the app reads them (`Classifier.read_number`: the ink
grouped, groups that may be touching digits cut where the model reads them best). Rows per kind:

- "2-4 digits", with a visible gap between neighbours: goal >= 98.5% read exactly overall;
- "5-8 digits", with visible gaps (a phone number, a serial): goal >= 97%;
- "touch 0-4%", "touch 4-8%", "touch 8-12%": 2-4 digits, one pair of neighbours touching, its
  inks overlapping by that much of the digits' height: goal >= 90% over the three.

"Exact" is the share of numbers read with every digit right and none missing or extra; "digit"
is the share of digits read, less the edit distance from what was read to what was written (as
OCR counts characters); "count" is the share split into the right number of digits. A digit the
model calls "not a digit" (class 10, where it has one) reads as "?", a wrong digit. Then the
split count: single MNIST test digits in every kind of `testkit.user_images`, read as numbers:
how many read as more (or fewer) than one digit, and how many read otherwise than `predict`
reads them (goal: 0 and 0). Then the latency: a 4-digit drawing on the canvas, read as a number
in this process on one torch thread as the app's workers run (goal: <= 15 ms p50), from decoded
pixels and from the PNG file as the app reads it.

    python -m benchmarks.number_accuracy                  # 300 numbers per kind and row: ~20 CPU minutes, one thread
    python -m benchmarks.number_accuracy --numbers 40     # quick look
    python -m benchmarks.number_accuracy --canvas 1200x600 --kinds sketch_composite sketch_layer
    python -m benchmarks.number_accuracy --out benchmarks/results/number_accuracy.txt

The loop is `testkit.user_numbers.read_numbers`, which `tests/test_numbers.py` runs on fewer
numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mnist_model.data import default_data_dir, load_mnist
from mnist_model.loader import load_model
from mnist_model.predict import Classifier
from testkit.user_images import KINDS as DIGIT_KINDS
from testkit.user_images import encode, make_user_image
from testkit.user_numbers import CANVAS, KINDS, VARIANTS, NumberResult, make_user_number, read_numbers

GOALS = {"2-4 digits": 0.985, "5-8 digits": 0.97, "touching": 0.9}  # read exactly, all kinds together
GOAL_LATENCY_MS = 15.0  # p50 of a 4-digit drawing, decoded pixels to digits
LATENCY_DRAWINGS = 40  # different 4-digit drawings the latency is measured on


def format_table(results: list[NumberResult]) -> str:
    """The results as a fixed-width table, a block per row kind with its overall line and goal."""
    header = (
        f"{'kind':17} {'numbers':11} {'n':>5} {'exact':>7} {'digit':>7} {'count':>7} {'errors':>6}"
        f" {'gen ms':>7} {'read ms':>8}"
    )
    lines = [header, "-" * len(header)]

    def row(name: str, variant: str, r: NumberResult) -> str:
        n = max(1, r.n)
        return (
            f"{name:17} {variant:11} {r.n:5d} {r.accuracy:7.2%} {r.digit_accuracy:7.2%} {r.count_right / n:7.2%}"
            f" {r.errors:6d} {1000 * r.generate_s / n:7.1f} {1000 * r.read_s / n:8.1f}"
        )

    def goal(name: str, total: NumberResult) -> str:
        met = "met" if total.accuracy >= GOALS[name] else "NOT met"
        return f"goal: {name} >= {GOALS[name]:.1%} read exactly ({met})"

    touching = NumberResult("overall", "touching")
    for variant in VARIANTS:
        block = [r for r in results if r.variant == variant]
        if not block:
            continue
        lines += [row(r.kind, variant, r) for r in block]
        total = _sum(block, "overall", variant)
        lines.append(row("overall", variant, total))
        if variant in GOALS:
            lines.append(goal(variant, total))
        if variant.startswith("touch"):
            touching = _sum([touching, total], "overall", "touching")
        lines.append("-" * len(header))
    if touching.n:
        lines += [row("overall", "touching", touching), goal("touching", touching), "-" * len(header)]
    lines.append(
        "exact = every digit right, none missing or extra; digit = 1 - edit distance / digits written; "
        "count = split into the right number of digits; read ms = Classifier.read_number"
    )
    return "\n".join(lines)


def _sum(results: list[NumberResult], kind: str, variant: str) -> NumberResult:
    total = NumberResult(kind, variant)
    for r in results:
        for name in ("n", "exact", "count_right", "digits", "digits_right", "errors"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        total.generate_s += r.generate_s
        total.read_s += r.read_s
    return total


def single_digits(reader: Classifier, images: torch.Tensor, per_kind: int, seed: int) -> dict[str, tuple[int, int]]:
    """Per kind of `testkit.user_images`: of `per_kind` single MNIST test digits read as numbers,
    how many did not read as one digit, and how many read otherwise than `predict` reads them."""
    counts = {}
    for index, kind in enumerate(DIGIT_KINDS):
        rng = np.random.default_rng([seed, 7, index])
        split = differ = 0
        for i in rng.choice(len(images), size=per_kind, replace=False):
            source = make_user_image(images[int(i)].numpy(), kind, rng)
            reading, alone = reader.read_number(source), reader.predict(source)
            split += len(reading.digits) != 1
            differ += len(reading.digits) == 1 and reading.digits[0].confidences != alone.confidences
        counts[kind] = (split, differ)
    return counts


def latency(
    reader: Classifier, images: torch.Tensor, canvas: tuple[int, int], runs: int, seed: int
) -> dict[str, list[float]]:
    """Seconds to read a 4-digit drawing on the canvas, from decoded pixels (the goal's) and from
    a PNG file, `runs` times over LATENCY_DRAWINGS different drawings, as the app reads it."""
    rng = np.random.default_rng([seed, 4])
    drawings = []
    for _ in range(LATENCY_DRAWINGS):
        digits = [images[int(i)].numpy() for i in rng.choice(len(images), size=4, replace=False)]
        drawings.append(make_user_number(digits, "sketch_composite", rng, canvas))
    sources = {
        f"{canvas[0]}x{canvas[1]} drawing, decoded pixels": [
            {"background": None, "layers": [], "composite": np.asarray(d.convert("RGBA"))} for d in drawings
        ],
        f"{canvas[0]}x{canvas[1]} drawing, PNG file": [encode(d) for d in drawings],
    }

    def read(source: object) -> None:
        reader.read_number(source)

    times: dict[str, list[float]] = {}
    for name, inputs in sources.items():
        for source in inputs:  # warm-up: first-call allocations, lazy imports
            read(source)
        times[name] = []
        for index in range(runs):
            source = inputs[index % len(inputs)]
            started = time.perf_counter()
            read(source)
            times[name].append(time.perf_counter() - started)
    return times


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")  # fmt: skip
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{model}, {os.cpu_count()} cores (load average {load:.1f} at the end); Python {platform.python_version()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} torch thread(s)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=300, help="numbers per kind and row (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="which digits and which random numbers (default 0)")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding MNIST/raw")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), metavar="KIND",
                        help=f"a subset of: {' '.join(KINDS)}")  # fmt: skip
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), metavar="ROW",
                        help=f"a subset of: {', '.join(repr(v) for v in VARIANTS)}")  # fmt: skip
    parser.add_argument("--canvas", default=f"{CANVAS[0]}x{CANVAS[1]}",
                        help="the drawing's WIDTHxHEIGHT for every kind but photo (default %(default)s)")  # fmt: skip
    parser.add_argument("--model", help="weights folder or OWNER/NAME[@REV] (default: the shipped weights/)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1, as the app's workers)")
    parser.add_argument("--single-digits", type=int, default=200,
                        help="single digits per kind checked for splits (default 200; 0: none)")  # fmt: skip
    parser.add_argument("--latency-runs", type=int, default=400, help="timed reads per latency input (default 400)")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.numbers < 1:
        parser.error("--numbers must be at least 1")
    try:
        canvas = tuple(int(side) for side in args.canvas.lower().split("x"))
        if len(canvas) != 2 or min(canvas) < 64:
            raise ValueError
    except ValueError:
        parser.error("--canvas must be WIDTHxHEIGHT, each side at least 64, e.g. 1200x600")
    torch.set_num_threads(args.threads)

    loaded = load_model(args.model)
    model = loaded.model.eval()
    reader = Classifier(model)
    images, labels = load_mnist(args.data_dir, train=False)
    report = [
        f"model: {loaded.source} ({model.arch}); {args.numbers} numbers per kind and row, seed {args.seed}, "
        f"canvas {canvas[0]}x{canvas[1]} (photos: 1000-3000 px)"
    ]
    print(report[0], flush=True)
    results = []
    for variant in args.variants:
        for kind in args.kinds:
            result = read_numbers(
                kind,
                variant,
                images,
                labels,
                args.numbers,
                lambda image: reader.read_number(image).text,
                args.seed,
                canvas,  # type: ignore[arg-type]
            )
            results.append(result)
            print(f"  {variant:11} {kind:17} {result.accuracy:7.2%}  ({len(result.misses)} misses)", flush=True)
    report += ["", format_table(results)]
    misses = [r for r in results if r.misses]
    if misses:
        report.append("\nmisses (written -> read; '' = nothing read):")
        for r in misses:
            shown = ", ".join(f"{m.truth}->{m.read or repr('')}" for m in r.misses[:10])
            more = f" ... +{len(r.misses) - 10}" if len(r.misses) > 10 else ""
            report.append(f"  {r.variant} {r.kind}: {shown}{more}")
    if args.single_digits > 0:
        counts = single_digits(reader, images, args.single_digits, args.seed)
        report.append(f"\nsingle digits read as numbers ({args.single_digits} per kind): not one digit / not as predict")
        report += [f"  {kind:17} {split:4d} {differ:4d}" for kind, (split, differ) in counts.items()]
        splits = sum(split for split, _ in counts.values())
        differs = sum(differ for _, differ in counts.values())
        report.append(f"  {'overall':17} {splits:4d} {differs:4d}   goal 0 and 0: {'met' if splits + differs == 0 else 'NOT met'}")
    if args.latency_runs > 0:
        report.append("\nlatency, a 4-digit drawing: Classifier.read_number, in process")
        times = latency(reader, images, canvas, args.latency_runs, args.seed)  # type: ignore[arg-type]
        for index, (name, seconds) in enumerate(times.items()):
            p50, p90 = np.percentile(np.asarray(seconds) * 1000, [50, 90])
            goal = f"  goal < {GOAL_LATENCY_MS:.0f} ms p50: {'met' if p50 < GOAL_LATENCY_MS else 'NOT met'}"
            report.append(
                f"  {name:40} p50 {p50:6.2f} ms  p90 {p90:6.2f} ms  ({len(seconds)} runs){goal * (index == 0)}"
            )
    report.append(f"\nmachine: {machine()}")
    text = "\n".join(report[1:])
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    main()
