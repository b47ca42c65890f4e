"""One image's inference: the shipped model, as the app runs it, against one of its members.

The app classifies one 28x28 image at a time in a worker with one thread, through
`mnist_model.model.for_inference` (BatchNorm folded, channels-last). The goal is under 1 ms per
image on the development CPU; the single-network model of the same architecture, timed in the
same process and turns, shows what the ensemble costs.

    python -m benchmarks.model_latency               # 2,000 timed calls each, after a warm-up
    python -m benchmarks.model_latency --runs 500
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import torch

from mnist_model.loader import load_model
from mnist_model.model import DigitNet, for_inference

GOAL_MS = 1.0


def time_calls(model: torch.nn.Module, image: torch.Tensor, runs: int) -> list[float]:
    """Milliseconds per call, `runs` calls after as many untimed ones."""
    times = []
    with torch.inference_mode():
        for timed in (False, True):
            for _ in range(runs):
                started = time.perf_counter()
                model(image)
                if timed:
                    times.append(1000 * (time.perf_counter() - started))
    return sorted(times)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000, help="timed calls per model and turn (default 2000)")
    parser.add_argument("--model", help="weights folder or OWNER/NAME[@REV] (default: the shipped weights/)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # as the app's workers
    loaded = load_model(args.model)
    shipped = for_inference(loaded.model)
    single = for_inference(DigitNet(loaded.model.arch, members=1).eval())
    image = torch.rand(1, 1, 28, 28)
    results: dict[str, list[float]] = {"shipped": [], "one member": []}
    for _ in range(3):  # turns, so that a drifting machine slows both alike
        results["shipped"] += time_calls(shipped, image, args.runs // 3)
        results["one member"] += time_calls(single, image, args.runs // 3)
    print(f"model: {loaded.source} ({loaded.model.arch}, {loaded.model.members} members); one thread, "
          f"torch {torch.__version__}")
    for name, times in results.items():
        times.sort()
        print(f"  {name:10}  p50 {times[len(times) // 2]:.3f} ms  p90 {times[len(times) * 9 // 10]:.3f} ms")
    p50 = sorted(results["shipped"])[len(results["shipped"]) // 2]
    ratio = p50 / sorted(results["one member"])[len(results["one member"]) // 2]
    print(f"shipped / one member: {ratio:.2f}x; goal p50 < {GOAL_MS} ms: {'met' if p50 < GOAL_MS else 'NOT met'}")


if __name__ == "__main__":
    main()
