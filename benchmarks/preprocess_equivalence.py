"""Whether two versions of `mnist_model.preprocess` give the very same output, input by input.

    python -m benchmarks.preprocess_equivalence --out NEW.json                  # record
    python -m benchmarks.preprocess_equivalence --out NEW.json --compare OLD.json

A refactoring of the preprocessing must not change what the model sees. This builds a fixed set
of inputs (MNIST test digits as every kind of user image, raw MNIST digits, random images of
every PIL mode and content, the files in examples/, the Chromium drawing, the hostile files and
Sketchpad values, unusable objects) and records, per input, the sha256 of the tensor's bytes and
of the preview's pixels and whether it was blank, or the error's type and message. Each input's
own sha256 is recorded too, so that a change in a generator is told apart from a change in the
preprocessing. The inputs come from this checkout's generators (`testkit`); to record another
version of the code, put it first on the path:

    cd /tmp/old && PYTHONPATH=/tmp/old python /path/to/benchmarks/preprocess_equivalence.py --out OLD.json

(the script prints which `mnist_model` it imported).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import mnist_model
from mnist_model.data import default_data_dir, load_mnist
from mnist_model.preprocess import preprocess

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT))  # testkit, for an older version of the code put first on the path

from testkit.hostile_inputs import file_cases, sketch_cases  # noqa: E402
from testkit.random_images import CONTENTS, MODES, make_image  # noqa: E402
from testkit.user_images import KINDS, encode, make_user_image  # noqa: E402

DIGITS = 40  # MNIST test digits, each as every kind of user image
RANDOM_PER_COMBINATION = 12  # random images per (mode, content): 11 x 3 x 12 = 396
EXTRA_MODES = ("RGBa", "La", "PA", "YCbCr", "HSV", "LAB", "I;16B", "I;16L")  # converted from RGB/L
SEED = 0

Source = Any
Case = tuple[str, Callable[[], Source]]  # name, and how to make the input (fresh on each call)


def _cases(data_dir: Path, scratch: Path) -> Iterator[Case]:
    images, _ = load_mnist(data_dir, train=False)
    digits = [images[i].numpy() for i in range(DIGITS)]
    for kind_index, kind in enumerate(KINDS):
        rng = np.random.default_rng([SEED, kind_index])
        for index, digit in enumerate(digits):
            made = make_user_image(digit, kind, rng)  # drawn in order: the same random stream
            yield f"user/{kind}/{index}", lambda made=made: made
    for index, digit in enumerate(digits):
        yield f"mnist/array/{index}", lambda digit=digit: digit.copy()
        yield f"mnist/png/{index}", lambda digit=digit: encode(Image.fromarray(digit))
    yield from _random_cases()
    for path in sorted((ROOT / "examples").glob("*")):
        if path.suffix in (".png", ".jpg"):
            yield f"file/examples/{path.name}", lambda path=path: str(path)
    drawing = ROOT / "benchmarks" / "inputs" / "sketch_chromium_800x800.png"
    yield "file/sketch_chromium_800x800.png", lambda: str(drawing)
    yield "sketch/chromium-composite-bytes", lambda: {"composite": drawing.read_bytes()}
    yield "sketch/chromium-decoded", lambda: {
        "background": None, "layers": [], "composite": np.asarray(Image.open(drawing).convert("RGBA"))
    }
    for case in file_cases():
        folder = scratch / case.name
        folder.mkdir()
        (folder / case.filename).write_bytes(case.data)
        yield f"hostile/{case.name}/bytes", lambda case=case: case.data
        yield f"hostile/{case.name}/path", lambda path=folder / case.filename: str(path)
    for sketch in sketch_cases():
        yield f"hostile-sketch/{sketch.name}", lambda sketch=sketch: sketch.value
    yield from _unusable_cases()


def _random_cases() -> Iterator[Case]:
    rng = np.random.default_rng(SEED)
    for mode in MODES:
        for content in CONTENTS:
            for index in range(RANDOM_PER_COMBINATION):
                size = _random_size(rng)
                seed = int(rng.integers(2**32))
                yield f"random/{mode}/{content}/{index}", lambda a=(size, mode, content, seed): make_image(*a)
    for mode in EXTRA_MODES:
        for content in CONTENTS:
            for index in range(3):
                size, seed = _random_size(rng), int(rng.integers(2**32))
                base = "L" if mode.startswith("I;16") else "RGB"
                yield f"random/{mode}/{content}/{index}", lambda a=(size, base, content, seed), mode=mode: (
                    make_image(*a).convert(mode)
                )


def _random_size(rng: np.random.Generator) -> tuple[int, int]:
    shape = int(rng.integers(6))
    if shape == 0:
        return 1, int(rng.integers(1, 5000))
    if shape == 1:
        return int(rng.integers(1, 5000)), 1
    if shape == 2:
        return int(rng.integers(300, 3000)), int(rng.integers(300, 3000))
    return int(rng.integers(1, 300)), int(rng.integers(1, 300))


def _unusable_cases() -> Iterator[Case]:
    truncated = encode(Image.new("RGB", (64, 64), "white"))[:120]
    objects: dict[str, Callable[[], Source]] = {
        "none": lambda: None,
        "int": lambda: 42,
        "float": lambda: 3.5,
        "list": lambda: ["not", "an", "image"],
        "dict-no-keys": lambda: {"something": "else"},
        "4d-array": lambda: np.zeros((2, 2, 2, 2), np.uint8),
        "5-channels": lambda: np.zeros((10, 10, 5), np.uint8),
        "empty-array": lambda: np.zeros((0, 10), np.uint8),
        "int64-array": lambda: np.zeros((10, 10), np.int64),
        "complex-array": lambda: np.zeros((10, 10), np.complex64),
        "float-above-1": lambda: np.full((10, 10), 2.0),
        "nan-array": lambda: np.full((10, 10), np.nan, np.float32),
        "bool-array": lambda: np.eye(50, dtype=bool),
        "uint16-12bit-array": lambda: (np.eye(50, dtype=np.uint16) * 4095),
        "float-rgba-array": lambda: np.random.default_rng(1).random((60, 40, 4)),
        "missing-file": lambda: "/no/such/file.png",
        "directory": lambda: str(ROOT / "examples"),
        "lazy-truncated-image": lambda: Image.open(io.BytesIO(truncated)),
    }
    for name, make in objects.items():
        yield f"object/{name}", make


def _digest(value: Any) -> str:
    """sha256 of an input's content, to tell a changed generator from a changed preprocessing."""
    hasher = hashlib.sha256()

    def feed(item: Any) -> None:
        if isinstance(item, (bytes, bytearray)):
            hasher.update(b"bytes" + bytes(item))
        elif isinstance(item, np.ndarray):
            hasher.update(f"array{item.dtype}{item.shape}".encode() + np.ascontiguousarray(item).tobytes())
        elif isinstance(item, Image.Image):
            try:
                hasher.update(f"image{item.mode}{item.size}".encode() + item.tobytes())
            except Exception as error:  # noqa: BLE001 - a deliberately broken image
                hasher.update(f"broken image {type(error).__name__}".encode())
        elif isinstance(item, dict):
            for key in sorted(item):
                hasher.update(repr(key).encode())
                feed(item[key])
        elif isinstance(item, (list, tuple)):
            for part in item:
                feed(part)
        elif isinstance(item, str) and os.path.isfile(item):
            hasher.update(b"file" + os.path.basename(item).encode() + Path(item).read_bytes())
        else:
            hasher.update(repr(item).encode())

    feed(value)
    return hasher.hexdigest()


def _outcome(source: Source) -> str:
    try:
        result = preprocess(source)
    except Exception as error:  # noqa: BLE001 - an error is an outcome to compare like any other
        return f"error {type(error).__name__}: {error}"
    tensor = "none" if result.tensor is None else hashlib.sha256(result.tensor.numpy().tobytes()).hexdigest()
    preview = hashlib.sha256(f"{result.preview.mode}{result.preview.size}".encode() + result.preview.tobytes())
    return f"blank={result.is_blank} tensor={tensor} preview={preview.hexdigest()}"


def record(data_dir: Path) -> dict[str, dict[str, str]]:
    results: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="equivalence-") as scratch:
        for name, make in _cases(data_dir, Path(scratch)):
            results[name] = {"input": _digest(make()), "output": _outcome(make())}
    return results


def compare(new: dict[str, dict[str, str]], old: dict[str, dict[str, str]]) -> list[str]:
    """One line per input whose output (or input) differs, or that only one side has."""
    lines = []
    for name in sorted(new.keys() | old.keys()):
        if name not in old or name not in new:
            lines.append(f"{name}: only in {'new' if name in new else 'old'}")
        elif new[name]["input"] != old[name]["input"]:
            lines.append(f"{name}: the INPUT differs (a generator changed), outputs not comparable")
        elif new[name]["output"] != old[name]["output"]:
            lines.append(f"{name}:\n  old {old[name]['output']}\n  new {new[name]['output']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write this version's results to")
    parser.add_argument("--compare", type=Path, help="JSON file of another version's results to compare with")
    parser.add_argument("--data-dir", type=Path, default=None, help="MNIST folder (default: as training)")
    args = parser.parse_args(argv)
    print(f"preprocessing from {Path(mnist_model.__file__).parent}", flush=True)
    results = record(args.data_dir or default_data_dir())
    args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    errors = sum(entry["output"].startswith("error") for entry in results.values())
    blank = sum("blank=True" in entry["output"] for entry in results.values())
    print(f"{len(results)} inputs ({errors} errors, {blank} blank) written to {args.out}")
    if args.compare is None:
        return 0
    differences = compare(results, json.loads(args.compare.read_text()))
    print("\n".join(differences))
    print(f"{len(differences)} differences from {args.compare} over {len(results)} inputs")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
