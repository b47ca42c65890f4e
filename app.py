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
import time
from pathlib import Path
from typing import Any

import gradio as gr
import torch
from gradio import route_utils
from gradio.components.image_editor import EditorData
from pydantic import ValidationError

from mnist_model.hub import HubError
from mnist_model.loader import load_model
from mnist_model.predict import Classifier
from mnist_model.preprocess import ImageError
from mnist_model.weights import WeightsError

MODEL_ENV = "MNIST_MODEL"
MAX_QUEUE_ENV = "MNIST_MAX_QUEUE"
# Requests allowed to wait for a worker. One more is refused at once with "Queue is full! Please
# try again." rather than left waiting: 64 is ~3 s of work on 2 cores (README, app latency).
MAX_QUEUE = 64
# Uploads and previews are cached as files, a new one per stroke and per upload. Each is needed
# for seconds (the browser fetches the preview right after the answer), so they are swept every
# minute and deleted after five: a busy public demo keeps a few minutes' traffic on disk, not a day's.
CACHE_SWEEP_S, CACHE_MAX_AGE_S = 60, 300
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
BLANK_MESSAGE = "Draw a digit (or upload a picture of one) to see a prediction"
MAX_FILE_SIZE = "10mb"
SKETCH_VALUE_HELP = (
    "A Sketchpad value is a dict with 'background' and 'composite' (image files or None) and "
    "'layers' (a list of image files)."
)


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


class SketchData(EditorData):
    """`EditorData` whose malformed values, from API callers, fail with one clear sentence.

    Gradio validates the value before any function runs: a pydantic `ValidationError` there
    reaches the caller as an opaque "the app raised an exception", and a dict with none of the
    Sketchpad's keys passes as an empty sketch, so a wrongly built call looks like a blank canvas.
    """

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> SketchData:
        # the browser sends only an "id" for a drawing it has uploaded as blobs
        if not isinstance(obj, dict) or not {"background", "layers", "composite", "id"} & obj.keys():
            raise gr.Error(SKETCH_VALUE_HELP, print_exception=False)
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as error:
            field = ".".join(map(str, error.errors()[0]["loc"]))
            message = f"The Sketchpad value's '{field}' is not valid. {SKETCH_VALUE_HELP}"
            raise gr.Error(message, print_exception=False) from None


class SketchFiles(gr.Sketchpad):
    """`gr.Sketchpad` that checks the value (`SketchData`) and hands its files on undecoded.

    `gr.Sketchpad` opens every part of the value with PIL before the function runs, so a broken
    file fails there with an opaque error, and a decompression bomb is decoded before
    `mnist_model.preprocess` can refuse it. Passing paths (or the browser's PNG bytes) on gives
    drawings the same checks and the same clear errors as uploads.
    """

    data_model = SketchData

    def get_block_name(self) -> str:
        return "imageeditor"  # the frontend component that draws gr.Sketchpad

    def preprocess(self, payload: EditorData | None) -> dict | None:
        if payload is None:
            return None
        blobs = self.blob_storage.pop(payload.id, None) if payload.id else None
        if blobs is not None:
            layers = [layer for layer in blobs.layers if layer is not None]
            return {"background": blobs.background, "layers": layers, "composite": blobs.composite}
        return {
            "background": payload.background.path if payload.background else None,
            "layers": [layer.path for layer in payload.layers],
            "composite": payload.composite.path if payload.composite else None,
        }


def build_demo(classifier: Classifier, source: str, metrics: dict | None, max_queue: int = MAX_QUEUE) -> gr.Blocks:
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
    route_utils.delete_files_created_by_app = delete_old_cache_files  # what delete_cache runs
    with gr.Blocks(title="MNIST digit classifier", delete_cache=(CACHE_SWEEP_S, CACHE_MAX_AGE_S)) as demo:
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
                        sketch = SketchFiles(
                            label="Draw a digit", type="filepath", image_mode="RGBA", format="png",
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
    demo.queue(default_concurrency_limit=os.cpu_count() or 1, max_size=max_queue)
    return demo


def delete_old_cache_files(blocks: gr.Blocks, age: int | None) -> None:
    """Gradio's cache sweep (`route_utils.delete_files_created_by_app`), over copies of its sets.

    Gradio 6.31 iterates over the live sets of cached files while requests add to them, so under
    traffic its sweep soon dies of "Set changed size during iteration" and never runs again: files,
    and the sets' entries in memory, then pile up for good (`python -m benchmarks.load soak`).
    Each file lives in a folder named by its hash, which Gradio leaves behind, a disk block per
    request: the folder goes too once empty (a request that caches the very same bytes there in
    that microsecond fails: a far smaller risk than a disk that fills up).
    """
    keep = set().union(*(getattr(block, "keep_in_cache", ()) for block in blocks.blocks.values()))
    for files in blocks.temp_file_sets:
        gone = set()
        for path in files.copy():  # one C call under the GIL: requests add to `files` meanwhile
            try:
                if path not in keep and (age is None or time.time() - os.lstat(path).st_ctime > age):
                    os.remove(path)
                    gone.add(path)
                    os.rmdir(os.path.dirname(path))
            except FileNotFoundError:
                gone.add(path)
            except OSError:  # a folder that holds another file
                pass
        files -= gone


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get(MODEL_ENV),
                        help=f"weights: a folder or OWNER/NAME[@REVISION] (default: ${MODEL_ENV} or weights/)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument("--max-queue", type=int, default=int(os.environ.get(MAX_QUEUE_ENV, MAX_QUEUE)),
                        help=f"requests that may wait; more are refused at once (default: ${MAX_QUEUE_ENV} or {MAX_QUEUE})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    try:
        loaded = load_model(args.model)
    except (HubError, WeightsError) as error:
        sys.exit(f"error: {error}")
    demo = build_demo(Classifier(loaded.model), loaded.source, loaded.metrics, args.max_queue)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_FILE_SIZE)


if __name__ == "__main__":
    main()
