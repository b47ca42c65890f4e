"""Write the app's sample images, `examples/`, from MNIST test digits.

    python -m benchmarks.make_examples [--data-dir DIR]

Each sample is one MNIST test digit turned by `testkit.user_images` into something a person
would really send (a drawing, a coloured pen, a photo of paper...), so the examples show the
preprocessing at work rather than MNIST's own tidy 28x28 images. Deterministic: rerunning it
rewrites the same files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from mnist_model.data import default_data_dir, load_mnist
from testkit.user_images import make_user_image

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
# (index in the MNIST test set, kind of image); the indices give the digits 7, 2, 1, 0, 4, 9
SAMPLES = [(0, "sketch_composite"), (1, "coloured_pen"), (2, "thick_marker"),
           (3, "white_on_black"), (4, "photo"), (7, "transparent_png")]
MAX_SIDE = 800  # photos are shrunk to keep the repository small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    images, labels = load_mnist(args.data_dir, train=False)
    EXAMPLES_DIR.mkdir(exist_ok=True)
    for index, kind in SAMPLES:
        image = make_user_image(images[index].numpy(), kind, np.random.default_rng(index))
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        name = f"{kind}_{int(labels[index])}"
        if kind == "photo":
            path = EXAMPLES_DIR / f"{name}.jpg"
            image.convert("RGB").save(path, quality=85)
        else:
            path = EXAMPLES_DIR / f"{name}.png"
            image.save(path, optimize=True)
        print(f"{path.relative_to(EXAMPLES_DIR.parent)}: MNIST test image #{index}, as a {kind}")


if __name__ == "__main__":
    main()
