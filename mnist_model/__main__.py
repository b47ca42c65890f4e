"""`python -m mnist_model`: classify image files, or publish a model folder without retraining.

    python -m mnist_model predict digit.png photo.jpg [--model OWNER/NAME]
    python -m mnist_model push [FOLDER] --repo-id OWNER/NAME
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .cli import add_push_arguments, fail, push
from .decode import ImageError
from .hub import HubError
from .loader import load_model
from .predict import Classifier
from .weights import SHIPPED_WEIGHTS_DIR, WeightsError, load_model_folder


def predict(args: argparse.Namespace) -> int:
    """Print, for each file, the top class and its probability (or "blank" / the error)."""
    try:
        classifier = Classifier(load_model(args.model).model)
    except (HubError, WeightsError) as error:
        return fail(error)
    status = 0
    for path in args.images:
        try:
            top = classifier.predict(path).top
        except ImageError as error:
            print(f"{path}: error: {error}")
            status = 1
            continue
        print(f"{path}: blank" if top is None else f"{path}: {top[0]} ({top[1]:.1%})")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_model", description="MNIST model tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    predict_parser = commands.add_parser("predict", help="classify image files")
    predict_parser.add_argument("images", nargs="+", metavar="IMAGE")
    predict_parser.add_argument("--model", help="a model folder or OWNER/NAME[@REVISION] (default: weights/)")
    push_parser = commands.add_parser("push", help="upload a model folder to a Hugging Face Hub model repo")
    push_parser.add_argument("out", nargs="?", type=Path, default=SHIPPED_WEIGHTS_DIR, metavar="FOLDER",
                             help="model folder to upload (default: weights/)")
    add_push_arguments(push_parser, required=True)
    args = parser.parse_args(argv)
    if args.command == "predict":
        return predict(args)
    try:
        load_model_folder(args.out)  # never publish a folder that would not load
    except WeightsError as error:
        return fail(error)
    return push(args)


if __name__ == "__main__":
    sys.exit(main())
