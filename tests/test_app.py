"""The real app on a free localhost port, called through `gradio_client` like any user script,
and the Classify button's choice between the drawing and the upload, in this process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from app import BLANK_MESSAGE, CANVAS, build_demo
from mnist_model.data import load_mnist
from mnist_model.loader import load_model
from mnist_model.predict import Classifier
from testkit import pen, user_numbers


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


CLASSES = [*map(str, range(10)), "not a digit"]  # sorted, as the labels sort


def top(label_value: dict) -> str:
    return label_value["label"]


@pytest.mark.slow
def test_predict_gives_every_class(client: Client, digits, tmp_path: Path) -> None:
    images, labels = digits
    correct = 0
    for image, label in zip(images[:10], labels[:10]):
        path = tmp_path / "digit.png"
        Image.fromarray(image).save(path)
        value, preview = client.predict(handle_file(str(path)), api_name="/predict")
        assert sorted(c["label"] for c in value["confidences"]) == CLASSES
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


def strokes_json(shapes: list[list[pen.Stroke]]) -> str:
    """Shapes written side by side on the page's 900x450 pad, as /predict_strokes takes them."""
    strokes = [stroke for i, shape in enumerate(shapes) for stroke in pen.place(shape, 80 + i * 260, 60, 300)]
    return json.dumps({"width": 900, "height": 450, "strokes": strokes})


@pytest.mark.slow
def test_strokes_endpoints_read_digits_a_number_and_refuse_a_letter(client: Client) -> None:
    for digit in "0123456789":
        value, _ = client.predict(strokes_json([pen.DIGITS[digit]]), api_name="/predict_strokes")
        assert top(value) == digit
    value, _ = client.predict(strokes_json([pen.LETTERS["A"]]), api_name="/predict_strokes")
    assert top(value) == "not a digit"
    text, details = client.predict(strokes_json([pen.DIGITS[d] for d in "203"]), api_name="/read_strokes")
    assert text == "203" and [d["digit"] for d in details] == list("203")
    assert client.predict(json.dumps({"width": 900, "height": 450, "strokes": []}), api_name="/read_strokes") == ("", [])
    value, _ = client.predict("", api_name="/predict_strokes")
    assert value == {"label": BLANK_MESSAGE, "confidences": None}


@pytest.mark.slow
@pytest.mark.parametrize("bad, message", [
    ('{"width": 900', "not valid JSON"),
    ('[1, 2]', "must be a JSON object"),
    ('{"width": 900, "height": 450}', "no 'strokes'"),
    ('{"width": 0, "height": 450, "strokes": []}', "'width' must be from 1 to 4096"),
    ('{"width": 900, "height": 450, "strokes": [[[1, "a"]]]}', "Point 0 of stroke 0 must be [x, y]"),
])
def test_bad_strokes_are_a_clear_error(client: Client, bad: str, message: str) -> None:
    for endpoint in ("/predict_strokes", "/read_strokes"):
        with pytest.raises(Exception) as caught:
            client.predict(bad, api_name=endpoint)
        assert message in str(caught.value)


def number_png(tmp_path: Path, digits: list[np.ndarray], name: str = "number.png") -> Path:
    """MNIST digits written side by side, black on a white canvas as wide as the app's."""
    canvas = Image.new("RGBA", CANVAS, "white")
    for i, digit in enumerate(digits):
        ink = Image.fromarray(255 - digit).resize((200, 200), Image.Resampling.BICUBIC)
        canvas.paste(ink.convert("RGBA"), (40 + i * 210, 120))
    path = tmp_path / name
    canvas.save(path)
    return path


@pytest.mark.slow
def test_read_number_reads_each_digit_left_to_right(client: Client, digits, tmp_path: Path) -> None:
    images, labels = digits
    path = number_png(tmp_path, list(images[:4]))
    expected = "".join(map(str, labels[:4]))
    text, details = client.predict(handle_file(str(path)), api_name="/read_number")
    assert text == expected
    assert [d["digit"] for d in details] == list(expected)
    lefts = [d["box"]["left"] for d in details]
    assert lefts == sorted(lefts) and 0 <= lefts[0] and details[-1]["box"]["right"] <= 900
    for d in details:
        assert len(d["top"]) == 3 and d["top"][0] == {"label": d["digit"], "probability": d["probability"]}
        assert d["touching"] is False
    sketch = {"background": None, "layers": [], "composite": handle_file(str(path))}
    assert client.predict(sketch, api_name="/read_number_sketch") == (text, details)


@pytest.mark.slow
def test_read_number_of_one_digit_agrees_with_predict(client: Client, digits, tmp_path: Path) -> None:
    path = sketch_png(tmp_path, digits[0][3])
    value, _ = client.predict(handle_file(str(path)), api_name="/predict")
    text, (detail,) = client.predict(handle_file(str(path)), api_name="/read_number")
    assert text == top(value) == detail["digit"]
    best = max(value["confidences"], key=lambda c: c["confidence"])
    assert abs(best["confidence"] - detail["probability"]) < 1e-6


@pytest.mark.slow
def test_read_number_of_blank_is_empty_and_bad_files_are_clear_errors(client: Client, tmp_path: Path) -> None:
    white = tmp_path / "white.png"
    Image.new("RGBA", (900, 450), "white").save(white)
    assert client.predict(handle_file(str(white)), api_name="/read_number") == ("", [])
    blank = {"background": None, "layers": [], "composite": None}
    assert client.predict(blank, api_name="/read_number_sketch") == ("", [])
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    with pytest.raises(Exception, match="not an image"):
        client.predict(handle_file(str(bad)), api_name="/read_number")


@pytest.fixture(scope="module")
def page_event() -> Callable[[dict | str | None], tuple]:
    """The page's event for a stroke or an upload, from the app's own `build_demo`."""
    demo: gr.Blocks = build_demo(Classifier(load_model().model), "tests", None)
    return next(fn.fn for fn in demo.fns.values() if fn.fn.__name__ == "show")


def test_the_page_shows_one_digit_as_predict_does_and_a_number_with_its_boxes(
    page_event, digits, tmp_path: Path
) -> None:
    images, labels = digits
    value, preview, boxes = page_event(str(sketch_png(tmp_path, images[0])))
    assert max(value, key=value.__getitem__) == str(labels[0]) and preview.size == (140, 140)
    assert boxes["visible"] is False
    value, strip, boxes = page_event(str(number_png(tmp_path, list(images[:3]))))
    ((number, probability),) = value.items()  # the number, and the chance that every digit is right
    assert number == "".join(map(str, labels[:3])) and 0.3 < probability < 1
    assert boxes["visible"] is True
    picture, annotations = boxes["value"]
    assert picture.size == (900, 450) and [label.split()[0] for _, label in annotations] == list(number)
    assert strip.width > strip.height  # the digits as the model saw them, side by side


def test_the_number_benchmark_writes_on_the_apps_canvas() -> None:
    assert user_numbers.CANVAS == CANVAS


@pytest.mark.parametrize("module", ["mnist_model.endpoints", "mnist_model.model"])
def test_the_docstring_examples_hold(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
