"""The real app on a free localhost port, called through `gradio_client` like any user script."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from mnist_model.data import load_mnist


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def digits(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mnist(data_dir, train=False)
    return images[:20].numpy(), labels[:20].numpy()


def sketch_png(tmp_path: Path, digit: np.ndarray) -> Path:
    """An MNIST digit drawn as a Sketchpad composite: black ink on a white 800x800 canvas."""
    ink = Image.fromarray(255 - digit).resize((400, 400), Image.Resampling.BICUBIC)
    canvas = Image.new("RGBA", (800, 800), "white")
    canvas.paste(ink.convert("RGBA"), (150, 250))
    path = tmp_path / "sketch.png"
    canvas.save(path)
    return path


def top(label_value: dict) -> str:
    return label_value["label"]


@pytest.mark.slow
def test_predict_gives_all_ten_classes(client: Client, digits, tmp_path: Path) -> None:
    images, labels = digits
    correct = 0
    for image, label in zip(images[:10], labels[:10]):
        path = tmp_path / "digit.png"
        Image.fromarray(image).save(path)
        value, preview = client.predict(handle_file(str(path)), api_name="/predict")
        assert sorted(c["label"] for c in value["confidences"]) == [str(d) for d in range(10)]
        assert abs(sum(c["confidence"] for c in value["confidences"]) - 1) < 1e-4
        assert Path(preview).is_file()
        correct += top(value) == str(label)
    assert correct >= 9


@pytest.mark.slow
def test_predict_sketch_reads_the_composite(client: Client, digits, tmp_path: Path) -> None:
    images, labels = digits
    correct = 0
    for image, label in zip(images[10:20], labels[10:20]):
        path = sketch_png(tmp_path, image)
        sketch = {"background": None, "layers": [], "composite": handle_file(str(path))}
        value, _ = client.predict(sketch, api_name="/predict_sketch")
        correct += top(value) == str(label)
    assert correct >= 9


@pytest.mark.slow
def test_blank_sketch_is_not_classified(client: Client, tmp_path: Path) -> None:
    white = tmp_path / "white.png"
    Image.new("RGBA", (800, 800), "white").save(white)
    for sketch in ({"background": None, "layers": [], "composite": None},
                   {"background": None, "layers": [], "composite": handle_file(str(white))}):
        value, _ = client.predict(sketch, api_name="/predict_sketch")
        assert value["label"].startswith("Draw a digit")
        assert not value.get("confidences")


@pytest.mark.slow
def test_bad_file_is_a_clear_error_and_the_server_keeps_answering(client: Client, digits, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    with pytest.raises(Exception) as caught:
        client.predict(handle_file(str(bad)), api_name="/predict")
    assert "image" in str(caught.value).lower()
    good = tmp_path / "good.png"
    Image.fromarray(digits[0][0]).save(good)
    value, _ = client.predict(handle_file(str(good)), api_name="/predict")
    assert top(value) == str(digits[1][0])
