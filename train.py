"""Train the MNIST digit classifier, evaluate it, save it to weights/ and optionally push it.

    python train.py                          # default model (with synthetic printed digits and
                                             # non-digits), written to weights/
    python train.py --arch seed --epochs 10  # the tutorial's network, for comparison
    python train.py --limit 2000 --epochs 2 --out /tmp/smoke   # a seconds-long smoke run
    python train.py --push --repo-id OWNER/NAME                 # train, save, then publish

To publish an existing folder without retraining: python -m mnist_model push --repo-id OWNER/NAME
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_model.cli import add_push_arguments, fail, push
from mnist_model.data import DATA_DIR_ENV, DataNotFoundError, default_data_dir
from mnist_model.fonts import FontsNotFoundError
from mnist_model.model import ARCHITECTURES, DEFAULT_ARCH, DEFAULT_MEMBERS
from mnist_model.training import TrainConfig, train
from mnist_model.weights import SHIPPED_WEIGHTS_DIR, WeightsError, save_model_folder


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(),
                        help=f"folder holding MNIST/raw (default: ${DATA_DIR_ENV} or data/); downloaded if absent")
    parser.add_argument("--arch", choices=ARCHITECTURES, default=DEFAULT_ARCH, help="network (default: %(default)s)")
    parser.add_argument("--members", type=int,
                        help=f"networks averaged in one module (default: {DEFAULT_MEMBERS}; seed: 1)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="default: %(default)s")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, help="default: %(default)s")
    parser.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="default: %(default)s")
    parser.add_argument("--device", help="cuda, mps or cpu (default: the best one available)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model before training")
    parser.add_argument("--fp32", action="store_true",
                        help="no bf16 autocast (default: on for CUDA GPUs and CPUs with native bf16)")
    parser.add_argument("--workers", type=int, help="processes drawing the synthetic images (default: one a core)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="smoke run: use at most N training, validation and test images")
    parser.add_argument("--out", type=Path, default=SHIPPED_WEIGHTS_DIR,
                        help="model folder to write, replaced atomically (default: weights/)")
    parser.add_argument("--push", action="store_true", help="publish the folder to the Hub after saving")
    add_push_arguments(parser, required=False)
    args = parser.parse_args(argv)
    if args.push and not args.repo_id:
        parser.error("--push needs --repo-id OWNER/NAME")
    if args.epochs < 1 or args.batch_size < 1 or any(n is not None and n < 1 for n in (args.limit, args.workers)):
        parser.error("--epochs, --batch-size, --limit and --workers must be positive")
    if args.members is not None and (args.members < 1 or (args.arch == "seed" and args.members != 1)):
        parser.error("--members must be positive, and 1 for the seed architecture (the tutorial's one network)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = TrainConfig(
        data_dir=args.data_dir, arch=args.arch, members=args.members, epochs=args.epochs, batch_size=args.batch_size,
        lr=args.lr, seed=args.seed, device=args.device, compile=args.compile, limit=args.limit, workers=args.workers,
        bf16=False if args.fp32 else None,
    )
    try:
        result = train(config)
        save_model_folder(result.model, result.metrics, args.out, repo_id=args.repo_id)
    except (DataNotFoundError, FontsNotFoundError, WeightsError, ValueError) as error:
        return fail(error)
    metrics = result.metrics
    print(
        f"test accuracy {metrics['test_accuracy']:.2%} (validation {metrics['validation_accuracy']:.2%}) "
        f"after {metrics['epochs']} epochs, {metrics['training_seconds']:.1f} s on {metrics['device_name']}; "
        f"saved to {args.out}"
    )
    return push(args) if args.push else 0


if __name__ == "__main__":
    sys.exit(main())
