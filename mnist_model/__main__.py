"""`python -m mnist_model`: classify image files, read the numbers on them, or publish a model
folder without retraining.

    python -m mnist_model predict digit.png photo.jpg [--model OWNER/NAME]   # one digit each
    python -m mnist_model read year.png price.jpg [--model OWNER/NAME]       # a whole number each
    python -m mnist_model push [FOLDER] --repo-id OWNER/NAME
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from .cli import add_push_arguments, fail, push
from .decode import ImageError
from .hub import HubError
from .loader import load_model
from .predict import Classifier
from .weights import SHIPPED_WEIGHTS_DIR, WeightsError, load_model_folder


def predict(classifier: Classifier, path: str) -> str:
    """The top class and its probability ("7 (93.1%)", "not a digit (88.0%)"), or "blank"."""
    top = classifier.predict(path).top
    return "blank" if top is None else f"{top[0]} ({top[1]:.1%})"


def read(classifier: Classifier, path: str) -> str:
    """The number, "?" for a piece that is not a digit ("2026", "4?2"), or "blank"."""
    return classifier.read_number(path).text or "blank"


def answer_each(args: argparse.Namespace, answer: Callable[[Classifier, str], str]) -> int:
    """Print `answer` for each file, or the file's error; exit status 1 if any file failed."""
    try:
        classifier = Classifier(load_model(args.model).model)
    except (HubError, WeightsError) as error:
        return fail(error)
    status = 0
    for path in args.images:
        try:
            print(f"{path}: {answer(classifier, path)}")
        except ImageError as error:
            print(f"{path}: error: {error}")
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mnist_model", description="MNIST model tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("predict", "classify image files, one digit each"),
                            ("read", "read the whole number on each image file")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("images", nargs="+", metavar="IMAGE")
        command.add_argument("--model", help="a model folder or OWNER/NAME[@REVISION] (default: weights/)")
    push_parser = commands.add_parser("push", help="upload a model folder to a Hugging Face Hub model repo")
    push_parser.add_argument("out", nargs="?", type=Path, default=SHIPPED_WEIGHTS_DIR, metavar="FOLDER",
                             help="model folder to upload (default: weights/)")
    add_push_arguments(push_parser, required=True)
    args = parser.parse_args(argv)
    if args.command in ("predict", "read"):
        return answer_each(args, predict if args.command == "predict" else read)
    try:
        load_model_folder(args.out)  # never publish a folder that would not load
    except WeightsError as error:
        return fail(error)
    return push(args)


if __name__ == "__main__":
    sys.exit(main())
