"""Draw or upload a digit; see what the MNIST model thinks it is.

    python app.py                         # http://127.0.0.1:7860, the shipped weights/
    python app.py --model OWNER/NAME@REV  # weights from a Hub repo (falls back to weights/ offline)
    python app.py --host 0.0.0.0 --port 8080 --share

Every input goes through `mnist_model.predict.Classifier`: the same preprocessing for drawings,
uploads, photos, the command line and the tests. The API has two stable endpoints,
`/predict` (an image file) and `/predict_sketch` (a Sketchpad value); see README.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import gradio as gr
import torch

from mnist_model.hub import HubError
from mnist_model.loader import load_model
from mnist_model.predict import Classifier
from mnist_model.preprocess import ImageError
from mnist_model.weights import WeightsError

MODEL_ENV = "MNIST_MODEL"
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
BLANK_MESSAGE = "Draw a digit (or upload a picture of one) to see a prediction"
MAX_FILE_SIZE = "10mb"


class ImageFile(gr.Image):
    """`gr.Image` that hands the uploaded file to our code undecoded.

    `gr.Image` opens every upload with PIL before the function runs, so a broken file fails there
    with an opaque "the app raised an exception". Passing the path on lets `mnist_model.preprocess`
    decode it and answer bad input with one clear sentence.
    """

    is_template = True  # rendered by the frontend as a plain Image

    def preprocess(self, payload):
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return payload.path
        return super().preprocess(payload)


def build_demo(classifier: Classifier, source: str, metrics: dict | None) -> gr.Blocks:
    """The interface: a sketchpad and an upload, the top classes, and what the model sees."""

    def classify(image) -> tuple[dict[str, float] | str, object]:
        try:
            prediction = classifier.predict(image)
        except ImageError as error:
            raise gr.Error(str(error), print_exception=False) from None
        return prediction.confidences or BLANK_MESSAGE, prediction.preview

    def predict(image: str | None) -> tuple[dict[str, float] | str, object]:
        """Classify an image file: the ten classes' probabilities and the 28x28 model input."""
        return classify(image)

    def predict_sketch(sketch: dict | None) -> tuple[dict[str, float] | str, object]:
        """Classify a Sketchpad value ({"background", "layers", "composite"})."""
        return classify(sketch)

    def predict_either(sketch: dict | None, image: str | None) -> tuple[dict[str, float] | str, object]:
        """The Classify button: the drawing if there is one, else the uploaded image."""
        drawn = classify(sketch)
        return drawn if drawn[0] != BLANK_MESSAGE or image is None else classify(image)

    accuracy = f"{metrics['test_accuracy']:.2%}" if metrics and "test_accuracy" in metrics else "unknown"
    # Uploads and previews are cached as files; drop those older than an hour, every hour.
    with gr.Blocks(title="MNIST digit classifier", delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# Handwritten digit classifier\n"
            "Draw a digit or upload a photo of one. The image is prepared the way MNIST was made "
            "(ink fitted into 20x20, centred by mass in 28x28); the panel on the right shows what "
            "the network sees."
        )
        with gr.Row():
            with gr.Column():
                with gr.Tabs():
                    with gr.Tab("Draw"):
                        sketch = gr.Sketchpad(
                            label="Draw a digit", type="numpy", image_mode="RGBA", format="png",
                            layers=False, canvas_size=(800, 800),
                        )
                    with gr.Tab("Upload"):
                        upload = ImageFile(
                            label="Upload, paste or photograph a digit", type="filepath", image_mode=None,
                            sources=["upload", "clipboard", "webcam"], elem_id="upload",
                        )
                with gr.Row():
                    clear = gr.Button("Clear")
                    submit = gr.Button("Classify", variant="primary")
            with gr.Column():
                label = gr.Label(num_top_classes=3, label="Prediction", value=BLANK_MESSAGE, elem_id="prediction")
                # All ten classes, what the API returns. "hidden", not False: a component that is not
                # rendered does not pass its value on to the event that copies it to `label`.
                probabilities = gr.Label(visible="hidden")
                preview = gr.Image(label="What the model sees (28x28)", interactive=False, height=220)
        examples = sorted(str(path) for path in EXAMPLES_DIR.iterdir() if path.suffix in (".png", ".jpg"))
        if examples:
            gr.Examples(examples=examples, inputs=upload, label="Sample digits: MNIST test digits redrawn as users send them")
        gr.Markdown(f"Model: `{source}` · MNIST test accuracy {accuracy}")

        outputs = [probabilities, preview]
        events = [
            sketch.change(predict_sketch, sketch, outputs, api_name="predict_sketch", trigger_mode="always_last"),
            upload.change(predict, upload, outputs, api_name="predict"),
            submit.click(predict_either, [sketch, upload], outputs, api_visibility="private"),
        ]
        for event in events:
            # The visible Label shows the top three of the API's ten classes.
            event.then(lambda value: value, probabilities, label, api_visibility="private", show_progress="hidden")
        clear.click(lambda: (None, None, BLANK_MESSAGE, None, None), None,
                    [sketch, upload, label, probabilities, preview], api_visibility="private")
    # One inference thread per core: a forward pass of this model is too small to split.
    demo.queue(default_concurrency_limit=os.cpu_count() or 1, max_size=64)
    return demo


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get(MODEL_ENV),
                        help=f"weights: a folder or OWNER/NAME[@REVISION] (default: ${MODEL_ENV} or weights/)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    try:
        loaded = load_model(args.model)
    except (HubError, WeightsError) as error:
        sys.exit(f"error: {error}")
    demo = build_demo(Classifier(loaded.model), loaded.source, loaded.metrics)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()
