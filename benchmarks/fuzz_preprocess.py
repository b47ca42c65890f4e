"""Coverage-guided fuzzing of the app's image path: bytes -> decode -> preprocess -> model.

    pip install -r benchmarks/requirements.txt            # atheris; CI does not need it
    python -m benchmarks.fuzz_preprocess                  # 3 minutes, then libFuzzer's stats
    python -m benchmarks.fuzz_preprocess -max_total_time=600 -jobs=2 -workers=2

The hostile corpus (`testkit/hostile_inputs.py`) holds the cases someone thought of; a fuzzer
mutates them, and valid digits in every format the app reads, byte by byte, keeping each mutation
that reaches new code in PIL's Python decoders or in `mnist_model.preprocess` (atheris
instruments both), so it finds the inputs nobody thought of. An input whose first byte is even
is a file: the rest goes through exactly what the app does with an upload (`preprocess` on the
file's bytes, then the model). An odd first byte makes the rest raw pixels instead (mode and
size from the next bytes), so that the fuzzer also steers the pixel values that a decoded file
hands to the preprocessing, which checksums and compression otherwise hide. The only expected
failure is `ImageError`, whose message is one sentence; anything else is a
crash: another exception, a tensor that is not a finite (1, 28, 28) in [0, 1], non-finite
logits, an input slower than `-timeout` seconds (default 10) or a process above
`-rss_limit_mb` (libFuzzer's 2048 MB).

The seeds are written to a temporary folder at start (no binaries are committed), which also
receives what the run adds to the corpus; crash reproducers go to the temporary folder printed
at start (`-artifact_prefix`). Arguments are libFuzzer's (`-help=1` lists them); a folder given
on the command line is used as the corpus instead of the seeds. Replay a crash with
`python -m benchmarks.fuzz_preprocess CRASH-FILE`.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import atheris
import numpy as np
import torch

with atheris.instrument_imports(
    include=["PIL", "mnist_model.decode", "mnist_model.paper", "mnist_model.pieces", "mnist_model.ink", "mnist_model.preprocess"]
):
    from PIL import Image

    from mnist_model.decode import ImageError
    from mnist_model.preprocess import preprocess

    Image.init()  # imports every format plugin now, while imports are instrumented

from mnist_model.loader import load_model
from testkit.hostile_inputs import draw_digit, file_cases
from testkit.user_images import encode

MAX_SEED_BYTES = 100_000  # larger seeds slow every mutation down; the corpus tests cover them
RAW_MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]
MAX_RAW_SIDE = 400
DEFAULTS = {"-max_total_time": "180", "-timeout": "10", "-print_final_stats": "1"}
MODEL = load_model().model.eval()


def source_of(data: bytes) -> bytes | Image.Image:
    """A file's bytes (first byte even), or an image of raw pixels (odd; see the docstring)."""
    if not data or data[0] % 2 == 0:
        return data[1:]
    provider = atheris.FuzzedDataProvider(data[1:])
    mode = provider.PickValueInList(RAW_MODES)
    size = (provider.ConsumeIntInRange(1, MAX_RAW_SIDE), provider.ConsumeIntInRange(1, MAX_RAW_SIDE))
    pixels = provider.ConsumeBytes(provider.remaining_bytes()) or b"\0"
    needed = len(Image.new(mode, size).tobytes())
    return Image.frombytes(mode, size, (pixels * (needed // len(pixels) + 1))[:needed])


def check_one_input(data: bytes) -> None:
    """The app's path for one input; raises (a crash for libFuzzer) on anything unexpected."""
    try:
        item = preprocess(source_of(data))
    except ImageError as error:
        message = str(error)
        if not message.endswith(".") or "\n" in message:
            raise AssertionError(f"unclear ImageError: {message!r}") from None
        return
    if item.preview.mode != "L" or item.preview.size != (28, 28):
        raise AssertionError(f"preview is {item.preview.mode} {item.preview.size}")
    tensor = item.tensor
    if tensor is None:
        return
    if tensor.shape != (1, 28, 28) or tensor.dtype != torch.float32:
        raise AssertionError(f"tensor is {tensor.dtype} {tuple(tensor.shape)}")
    if not (torch.isfinite(tensor).all() and tensor.min() >= 0 and tensor.max() <= 1):
        raise AssertionError(f"tensor outside [0, 1]: {tensor.min()}..{tensor.max()}")
    with torch.inference_mode():
        logits = MODEL(tensor[None])
    if not torch.isfinite(logits).all():
        raise AssertionError("non-finite logits")


def seeds() -> dict[str, bytes]:
    """The hostile corpus's files, valid digits in each format the app reads (all with a
    leading 0: files), and a few raw-pixel digits (leading 1: mode index, width, height, pixels)."""
    files = {case.filename: case.data for case in file_cases() if len(case.data) <= MAX_SEED_BYTES}
    seven, small = draw_digit((64, 64)), draw_digit((28, 28))
    rgba = draw_digit((48, 48), "RGBA")
    rgba.putalpha(Image.fromarray(255 - np.asarray(draw_digit((48, 48)))))  # ink on transparency
    formats = {
        "digit.png": (seven, "PNG", {}),
        "digit-rgba.png": (rgba, "PNG", {}),
        "digit.jpg": (seven.convert("RGB"), "JPEG", {"quality": 80}),
        "digit.gif": (seven, "GIF", {}),
        "digit.tiff": (seven, "TIFF", {}),
        "digit.webp": (rgba, "WEBP", {"lossless": True}),
        "digit.avif": (seven.convert("RGB"), "AVIF", {}),
        "digit.bmp": (small, "BMP", {}),  # uncompressed, no checksums: mutations reach the pixels
        "digit-rgba.bmp": (rgba, "BMP", {}),
        "digit-16-bit.tiff": (Image.fromarray(np.asarray(small).astype(np.uint16) * 257), "TIFF", {}),
    }
    files.update({name: encode(image, fmt, **options) for name, (image, fmt, options) in formats.items()})
    found = {name: b"\0" + data for name, data in files.items()}
    for mode in ("L", "RGBA", "F"):
        image = small.convert(mode)
        # FuzzedDataProvider reads from the end: the mode's index (1 byte), then the width and
        # the height (2 bytes each, the high byte first)
        choice = bytes([image.height - 1, 0, image.width - 1, 0, RAW_MODES.index(mode)])
        found[f"raw-{mode}"] = b"\1" + image.tobytes() + choice
    return found


def main() -> None:
    warnings.simplefilter("ignore")  # PIL warns about odd files; only failures matter here
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="fuzz-preprocess-"))
    argv = list(sys.argv)
    for option, value in {**DEFAULTS, "-artifact_prefix": f"{work}/"}.items():
        if not any(arg.startswith(option + "=") for arg in argv):
            argv.append(f"{option}={value}")
    if not any(not arg.startswith("-") for arg in argv[1:]):
        corpus = work / "corpus"
        corpus.mkdir()
        for name, data in seeds().items():
            (corpus / name).write_bytes(data)
        argv.append(str(corpus))
    print(f"fuzz-preprocess: corpus and crash files in {work}", flush=True)
    atheris.Setup(argv, check_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
