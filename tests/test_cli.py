"""`python -m mnist_model predict` and `read`: the tutorial's last step, through the app's
preprocessing, for one digit and for a whole number."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from PIL import Image

pytestmark = pytest.mark.slow  # each test runs the command in a child process

EXAMPLES = REPO_ROOT / "examples"


def predict(*paths: Path, env: dict[str, str], command: str = "predict") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_model", command, *map(str, paths)],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env=env,
    )


def test_predict_prints_the_top_class_blank_or_the_error_for_each_file(
    tmp_path: Path, env_for_subprocess: dict[str, str]
) -> None:
    samples = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".png", ".jpg"))
    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), "white").save(blank)
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    result = predict(*samples, blank, broken, env=env_for_subprocess)
    assert result.returncode == 1  # one file could not be read
    lines = result.stdout.splitlines()
    assert len(lines) == len(samples) + 2
    for sample, line in zip(samples, lines):
        digit = sample.stem.rsplit("_", 1)[1]  # the sample's file name ends in its digit
        assert line.startswith(f"{sample}: {digit} ("), line
    assert lines[-2] == f"{blank}: blank"
    assert lines[-1].startswith(f"{broken}: error: ")
    assert "Traceback" not in result.stderr


def test_predict_all_good_files_exits_zero(env_for_subprocess: dict[str, str]) -> None:
    result = predict(EXAMPLES / "sketch_composite_7.png", env=env_for_subprocess)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{EXAMPLES / 'sketch_composite_7.png'}: 7 (")


def test_read_prints_each_files_number_blank_or_the_error(
    tmp_path: Path, data_dir: Path, env_for_subprocess: dict[str, str]
) -> None:
    from mnist_model.data import load_mnist

    images, labels = load_mnist(data_dir, train=False)
    number = Image.new("L", (900, 450), 255)
    for i in range(3):
        number.paste(Image.fromarray(255 - images[i].numpy()).resize((200, 200)), (60 + i * 260, 120))
    written = tmp_path / "number.png"
    number.save(written)
    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), "white").save(blank)
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    result = predict(written, blank, broken, env=env_for_subprocess, command="read")
    assert result.returncode == 1  # one file could not be read
    assert result.stdout.splitlines() == [
        f"{written}: {''.join(str(int(label)) for label in labels[:3])}",
        f"{blank}: blank",
        f"{broken}: error: The file broken.png is not an image in a format this app can read.",
    ]
    assert "Traceback" not in result.stderr
