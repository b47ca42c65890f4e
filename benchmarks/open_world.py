"""The model against the world it meets: every kind of real digit read, not refused; every kind
of non-digit and of empty paper refused; each kind marked trained, calibration or held out.

Runs each category of `testkit/open_world.py` through the app's own path (`preprocess`, then
the model, one image at a time) and MNIST's whole test set through the model, and writes one
table, with the goals and the machine, to `benchmarks/results/open_world.txt`:

    python -m benchmarks.open_world                  # 300 items a category: ~6 min on one CPU thread
    python -m benchmarks.open_world --per-category 60 --out /tmp/quick.txt
    python -m benchmarks.open_world --model OWNER/NAME@REV

"held out" rows are what shows generalisation: no font, medium, writer or paper flaw of theirs
was trained on or looked at while calibrating the refusal.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from mnist_model.data import default_data_dir, load_mnist
from mnist_model.model import NOT_A_DIGIT
from mnist_model.training import device_name
from testkit.open_world import (
    CATEGORIES,
    DIGIT_CATEGORIES,
    NOT_DIGIT_CATEGORIES,
    PAPER_CATEGORIES,
    CategoryResult,
    category_rng,
    run_category,
)

RESULTS = Path(__file__).resolve().parent / "results" / "open_world.txt"
GOAL_REFUSED_DIGITS = 0.01  # of every kind of real digit ...
GOAL_REFUSED_MNIST = 0.0005  # ... and of MNIST's test set
GOAL_NOT_DIGITS = 0.97  # of all non-digits, refused or blank
GOAL_PAPER = 0.98  # of all photos of empty paper, refused or blank
GOAL_ACCURACY = {"print": 0.99, "handwriting": 0.98, "mnist_as_sent": 0.997, "mnist_test": 0.997}


def accuracy_goal(category: str) -> float | None:
    """The accuracy a digit category must reach, where the project sets one."""
    if category in GOAL_ACCURACY:
        return GOAL_ACCURACY[category]
    return GOAL_ACCURACY.get(category.split("_")[0]) if category.endswith("_fonts") else None


def format_table(results: list[CategoryResult], mnist_accuracy: float, mnist_refused: float, mnist_n: int) -> str:
    header = (f"{'category':28} {'seen':11} {'n':>5} {'right':>8} {'refused':>8} {'blank':>6}  {'goal':36} "
              "most common wrong answers")  # fmt: skip
    lines = [header, "-" * len(header)]
    verdicts: list[bool] = []

    def line(name: str, seen: str, n: int, right: float, refused: float, blank: int, goal: str, ok: bool,
             wrong: str = "") -> None:  # fmt: skip
        verdicts.append(ok)
        lines.append(f"{name:28} {seen:11} {n:5d} {right:8.2%} {refused:8.2%} {blank:6d}  "
                     f"{goal + ('' if ok else ' MISSED'):36} {wrong}".rstrip())  # fmt: skip

    mnist_ok = mnist_accuracy >= GOAL_ACCURACY["mnist_test"] and mnist_refused <= GOAL_REFUSED_MNIST
    line("mnist_test (raw tensors)", "trained", mnist_n, mnist_accuracy, mnist_refused, 0,
         f">={GOAL_ACCURACY['mnist_test']:.1%}, <={GOAL_REFUSED_MNIST:.2%} refused", mnist_ok)  # fmt: skip
    for group, names in (("digit", DIGIT_CATEGORIES), ("not a digit", NOT_DIGIT_CATEGORIES),
                         ("empty paper", PAPER_CATEGORIES)):  # fmt: skip
        lines.append(f"-- {group}")
        for result in (r for r in results if r.category in names):
            category = CATEGORIES[result.category]
            wrong = ", ".join(f"{answer} x{count}" for answer, count in result.answers.most_common(4))
            if group == "digit":
                goal = accuracy_goal(result.category)
                ok = result.refused_rate <= GOAL_REFUSED_DIGITS and (goal is None or result.accuracy >= goal)
                text = (f">={goal:.1%}, " if goal else "") + f"<={GOAL_REFUSED_DIGITS:.0%} refused"
            else:
                ok, text = True, "refused or blank"
            line(result.category, category.seen, result.n, result.accuracy, result.refused_rate, result.blank,
                 text, ok, wrong)  # fmt: skip
        if group != "digit":
            chosen = [r for r in results if r.category in names]
            share = sum(r.correct for r in chosen) / max(1, sum(r.n for r in chosen))
            goal = GOAL_NOT_DIGITS if group == "not a digit" else GOAL_PAPER
            verdicts.append(share >= goal)
            lines.append(f"{group}, all: {share:.2%} refused or blank (goal >= {goal:.0%}: "
                         f"{'met' if share >= goal else 'MISSED'})")  # fmt: skip
    lines.append("-" * len(header))
    lines.append(f"{sum(verdicts)} of {len(verdicts)} goals met")
    return "\n".join(lines)


def format_calibration(curve: list[dict] | None, chosen: float) -> str:
    """The refusal's trade-off on the validation sets (metrics.json's `refusal_calibration`):
    each bias, the digits refused per kind and the non-digits refused."""
    if not curve:
        return "refusal calibration: not recorded for this model"
    kinds = list(curve[0]["refused"])
    header = f"{'bias':>6} " + " ".join(f"{kind.removeprefix('validation_') or 'mnist':>18}" for kind in kinds)
    header = header.replace(f"{'validation':>18}", f"{'mnist':>18}") + f" {'non-digits':>11}"
    lines = ["refusal calibration on the validation sets: share of digits refused per kind, of non-digits "
             "refused (* the chosen bias)", header]  # fmt: skip
    for point in curve:
        mark = "*" if point["bias"] == chosen else " "
        shares = " ".join(f"{point['refused'][kind]:18.2%}" for kind in kinds)
        lines.append(f"{point['bias']:5.2f}{mark} {shares} {point['not_digits_refused']:11.2%}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-category", type=int, default=300, help="items a category (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="which random items (default 0)")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="folder holding MNIST/raw")
    parser.add_argument("--model", help="weights folder or OWNER/NAME[@REV] (default: the shipped weights/)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the table goes (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.per_category < 1:
        parser.error("--per-category must be at least 1")
    torch.set_num_threads(1)  # one image at a time, as the app serves them

    from mnist_model.loader import load_model
    from mnist_model.preprocess import preprocess

    loaded = load_model(args.model)
    model = loaded.model.eval()
    mnist = load_mnist(args.data_dir, train=False)
    started = time.perf_counter()
    results = []
    for name in CATEGORIES:
        result = run_category(name, args.per_category, model, preprocess, category_rng(args.seed, name), mnist)
        print(f"{name:28} {result.accuracy:7.2%} right, {result.refused_rate:6.2%} refused", flush=True)
        results.append(result)
    with torch.inference_mode():
        answers = model(mnist[0].float().div(255).unsqueeze(1)).argmax(dim=1)
    mnist_accuracy = (answers == mnist[1]).float().mean().item()
    mnist_refused = (answers == NOT_A_DIGIT).float().mean().item()
    table = format_table(results, mnist_accuracy, mnist_refused, len(answers))
    table += "\n\n" + format_calibration((loaded.metrics or {}).get("refusal_calibration"), getattr(model, "refusal_bias", 0.0))
    heading = (f"benchmarks.open_world: {args.per_category} items a category, seed {args.seed}, model "
               f"{loaded.source} (refusal bias {getattr(model, 'refusal_bias', 0.0)}); "
               f"{device_name(torch.device('cpu'))}, Python {platform.python_version()}, "
               f"torch {torch.__version__}; {time.perf_counter() - started:.0f} s")  # fmt: skip
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"{heading}\n\n{table}\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
