"""`python -m mnist_model push`: publish an existing model folder without retraining."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import add_push_arguments, fail, push
from .weights import SHIPPED_WEIGHTS_DIR, WeightsError, load_model_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_model", description="MNIST model tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    push_parser = commands.add_parser("push", help="upload a model folder to a Hugging Face Hub model repo")
    push_parser.add_argument("out", nargs="?", type=Path, default=SHIPPED_WEIGHTS_DIR, metavar="FOLDER",
                             help="model folder to upload (default: weights/)")
    add_push_arguments(push_parser, required=True)
    args = parser.parse_args(argv)
    try:
        load_model_folder(args.out)  # never publish a folder that would not load
    except WeightsError as error:
        return fail(error)
    return push(args)


if __name__ == "__main__":
    sys.exit(main())
