"""The real app on a free localhost port, called through `gradio_client` like any user script,
and the Classify button's choice between the drawing and the upload, in this process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from app import BLANK_MESSAGE, build_demo
from mnist_model.data import load_mnist
from mnist_model.loader import load_model
from mnist_model.predict import Classifier


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
        assert value == {"label": BLANK_MESSAGE, "confidences": None}
    value, _ = client.predict(None, api_name="/predict")
    assert value == {"label": BLANK_MESSAGE, "confidences": None}


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


@pytest.fixture(scope="module")
def classify_button() -> Callable[[dict | None, str | None], tuple]:
    """The Classify button's event function, from the app's own `build_demo`."""
    demo: gr.Blocks = build_demo(Classifier(load_model().model), "tests", None)
    return next(fn.fn for fn in demo.fns.values() if fn.fn.__name__ == "predict_either")


def test_classify_takes_the_drawing_else_the_upload(classify_button, digits, tmp_path: Path) -> None:
    images, labels = digits
    assert labels[0] != labels[1]
    drawn = {"background": None, "layers": [], "composite": str(sketch_png(tmp_path, images[0]))}
    upload = tmp_path / "upload.png"
    Image.fromarray(images[1]).save(upload)
    blank = {"background": None, "layers": [], "composite": None}

    def best(value: dict[str, float]) -> str:
        return max(value, key=value.__getitem__)

    assert best(classify_button(drawn, str(upload))[0]) == str(labels[0])
    assert best(classify_button(blank, str(upload))[0]) == str(labels[1])
    for sketch in (blank, None):
        value, preview = classify_button(sketch, None)
        assert value == BLANK_MESSAGE and preview is not None
