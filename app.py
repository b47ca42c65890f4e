"""Draw or upload a digit, or a whole number; see what the model reads.

    python app.py                         # http://127.0.0.1:7860, the shipped weights/
    python app.py --model OWNER/NAME@REV  # weights from a Hub repo (falls back to weights/ offline)
    python app.py --host 0.0.0.0 --port 8080 --share
    python app.py --workers 0             # classify in the server's threads, not in worker processes
    python app.py --mcp                   # also an MCP server at /gradio_api/mcp/ (or GRADIO_MCP_SERVER=true)

Every input goes through `mnist_model.predict.Classifier`, run in worker processes beside the
server (`mnist_model.pool`): the same preprocessing for drawings, uploads, photos, the command
line and the tests. The API has six stable endpoints: `/predict` (one digit on an image file),
`/predict_sketch` (on a Sketchpad value), `/predict_strokes` (on strokes as JSON points),
`/read_number`, `/read_number_sketch` and `/read_strokes` (every digit, left to right), with
--mcp also MCP tools of the same names, described by their docstrings; see README.md. The page's
own events are private: the pad's (`mnist_model.pad`) while the pen moves and when it lifts, and
the upload's, show a digit's classes, or a number and each of its digits. What depends on
Gradio's internals is in `mnist_model.gradio_workarounds`, the server's limits in
`mnist_model.serving`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import gradio as gr
import torch

from mnist_model import gradio_workarounds
from mnist_model.answers import BLANK_MESSAGE, digit_outputs, number_outputs, page_answer
from mnist_model.decode import ImageError, load_image
from mnist_model.gradio_workarounds import ImageFile, SketchFiles
from mnist_model.hub import HubError
from mnist_model.loader import load_model
from mnist_model.memory import limit_malloc_arenas
from mnist_model.model import DigitNet
from mnist_model.pad import PAD_HEIGHT, PAD_WIDTH, stroke_pad
from mnist_model.pool import ClassifierPool, WorkerError, default_workers
from mnist_model.predict import Classifier, NumberReading, Prediction, Predictor
from mnist_model.serving import serve
from mnist_model.strokes import StrokesError, strokes_picture
from mnist_model.weights import WeightsError

MODEL_ENV = "MNIST_MODEL"
WORKERS_ENV = "MNIST_WORKERS"
MAX_QUEUE_ENV = "MNIST_MAX_QUEUE"
# Also serve the API as MCP tools (--mcp). Gradio reads the same variable (only "true"); the app
# passes its own answer explicitly, so a Space turns it on by setting the variable.
MCP_ENV = "GRADIO_MCP_SERVER"
MCP_ENV_ON = ("true", "1", "yes")
# Requests each classifying event has in flight per worker process: while the workers classify
# some, the server reads and answers others (`python -m benchmarks.app_latency` measures the gain).
REQUESTS_PER_WORKER = 4
# Requests allowed to wait for a worker. One more is refused at once with "Queue is full! Please
# try again." rather than left waiting behind more work than anyone would wait for.
MAX_QUEUE = 64
# Uploads and previews are cached as files, a new one per stroke and per upload. Each is needed
# for seconds (the browser fetches the preview right after the answer), so they are swept every
# minute and deleted after five: a busy public demo keeps a few minutes' traffic on disk, not a day's.
CACHE_SWEEP_S, CACHE_MAX_AGE_S = 60, 300
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
CANVAS = (PAD_WIDTH, PAD_HEIGHT)  # the pad's, wider than tall for a number; also what /predict_sketch expects


def build_demo(
    classifier: Predictor, source: str, metrics: dict | None,
    max_queue: int = MAX_QUEUE, concurrency: int | None = None,
) -> gr.Blocks:
    """The interface: a sketchpad and an upload, the top classes, and what the model sees.

    `concurrency`: requests each classifying event handles at once (default: one per core).
    Whoever serves it under traffic calls `gradio_workarounds.apply()` first, as `main` does, or
    Gradio's own cache sweep runs, which dies under concurrent requests.
    """

    def classify(source: str | bytes | dict | None) -> Prediction:
        try:
            return classifier.predict(source)
        except (ImageError, WorkerError) as error:
            raise gr.Error(str(error), print_exception=False) from None

    def read(source: str | bytes | dict | None) -> NumberReading:
        try:
            return classifier.read_number(source)
        except (ImageError, WorkerError) as error:
            raise gr.Error(str(error), print_exception=False) from None

    def drawn(strokes: str | dict | None) -> object:
        try:
            return strokes_picture(strokes)
        except StrokesError as error:
            raise gr.Error(str(error), print_exception=False) from None

    def predict(image: str | None) -> tuple[dict[str, float] | str, object]:
        """Classify a picture of one digit, 0 to 9, handwritten or printed: a drawing, scan or photo.

        The picture is prepared the way MNIST was (ink fitted into 20x20, centred in 28x28). Ink
        that is not a digit (a letter, a symbol, a shape, a scribble) is answered "not a digit".

        Args:
            image: a PNG or JPEG file, given as a data: URL (data:image/png;base64,...) or an http(s) URL.
        Returns:
            a label: the likeliest class ("0" to "9", or "not a digit") and the probabilities of all eleven; a blank picture (no ink) gives a label without confidences, "Draw a digit, or upload a picture of one"
            the 28x28 image the model saw, white on black, enlarged 5x to 140x140
        """
        return digit_outputs(classify(image))

    def predict_sketch(sketch: dict | None) -> tuple[dict[str, float] | str, object]:
        """Classify a digit drawn on the app's Sketchpad, 0 to 9, as the browser sends it.

        For a picture file, use predict instead. Ink that is not a digit is answered "not a digit".

        Args:
            sketch: a Sketchpad value, {"background": file or null, "layers": [files], "composite": file}, each file a PNG.
        Returns:
            a label: the likeliest class ("0" to "9", or "not a digit") and the probabilities of all eleven; a blank drawing (no ink) gives a label without confidences, "Draw a digit, or upload a picture of one"
            the 28x28 image the model saw, white on black, enlarged 5x to 140x140
        """
        return digit_outputs(classify(sketch))

    def predict_strokes(strokes: str | dict | None) -> tuple[dict[str, float] | str, object]:
        """Classify a digit written as pen strokes, 0 to 9: the way for an assistant to write one.

        The strokes are drawn black on white with a round pen width/18 wide, then read as predict reads a picture. Ink that is not a digit is answered "not a digit".

        Args:
            strokes: JSON text {"width": W, "height": H, "strokes": [[[x, y], [x, y], ...], ...]}: the pad's size (whole numbers, 1 to 4096; the page's pad is 900x450) and each stroke's points in pad coordinates, x right and y down from the top left; a one-point stroke is a dot.
        Returns:
            a label: the likeliest class ("0" to "9", or "not a digit") and the probabilities of all eleven; a blank drawing (no strokes) gives a label without confidences, "Draw a digit, or upload a picture of one"
            the 28x28 image the model saw, white on black, enlarged 5x to 140x140
        """
        return digit_outputs(classify(drawn(strokes)))

    def read_number(image: str | None) -> tuple[str, list[dict]]:
        """Read the whole number written on a picture (a year, a price, a phone number): every digit, left to right.

        Each digit is prepared and classified as predict does one, all in one batch. A piece of
        ink that is not a digit shows as "?" in the number.

        Args:
            image: a PNG or JPEG file, given as a data: URL (data:image/png;base64,...) or an http(s) URL.
        Returns:
            the number as a string, e.g. "2026", "?" for each piece that is not a digit; "" when the picture is blank (no ink)
            per digit, left to right: {"digit", "probability", "top": the three likeliest classes as {"label", "probability"}, "box": its ink in the picture's pixels as {"left", "top", "right", "bottom"}, "touching": whether it was cut from ink shared with a neighbour}
        """
        return number_outputs(read(image))

    def read_number_sketch(sketch: dict | None) -> tuple[str, list[dict]]:
        """Read the whole number drawn on the app's Sketchpad: every digit, left to right.

        For a picture file, use read_number instead. A piece of ink that is not a digit shows as "?".

        Args:
            sketch: a Sketchpad value, {"background": file or null, "layers": [files], "composite": file}, each file a PNG.
        Returns:
            the number as a string, e.g. "2026", "?" for each piece that is not a digit; "" when the drawing is blank (no ink)
            per digit, left to right: {"digit", "probability", "top": the three likeliest classes as {"label", "probability"}, "box": its ink in the drawing's pixels as {"left", "top", "right", "bottom"}, "touching": whether it was cut from ink shared with a neighbour}
        """
        return number_outputs(read(sketch))

    def read_strokes(strokes: str | dict | None) -> tuple[str, list[dict]]:
        """Read the whole number written as pen strokes: every digit, left to right.

        The strokes are drawn as predict_strokes draws them, then read as read_number reads a picture. A piece of ink that is not a digit shows as "?".

        Args:
            strokes: JSON text {"width": W, "height": H, "strokes": [[[x, y], [x, y], ...], ...]}: the pad's size (whole numbers, 1 to 4096; the page's pad is 900x450) and each stroke's points in pad coordinates, x right and y down from the top left; a one-point stroke is a dot.
        Returns:
            the number as a string, e.g. "2026", "?" for each piece that is not a digit; "" when the drawing is blank (no strokes)
            per digit, left to right: {"digit", "probability", "top": the three likeliest classes as {"label", "probability"}, "box": its ink in pad coordinates as {"left", "top", "right", "bottom"}, "touching": whether it was cut from ink shared with a neighbour}
        """
        return number_outputs(read(drawn(strokes)))

    def show(source: str | dict | None) -> tuple[object, object, object]:
        """The page's answer to a drawing or an upload (`mnist_model.answers.page_answer`)."""
        label, picture, boxes = page_answer(read(source))
        if boxes is None:
            return label, picture, gr.update(visible=False)
        # over the picture as the digits' boxes measure it: EXIF-turned
        return label, picture, gr.update(value=(load_image(source), boxes), visible=True)

    def show_strokes(strokes: str | None) -> tuple[object, object, object]:
        """The page's answer to the pad, while the pen moves and once it lifts."""
        return show(drawn(strokes))

    accuracy = f"{metrics['test_accuracy']:.2%}" if metrics and "test_accuracy" in metrics else "unknown"
    with gr.Blocks(title="MNIST digit classifier", delete_cache=(CACHE_SWEEP_S, CACHE_MAX_AGE_S)) as demo:
        gr.Markdown(
            "# Handwritten digit classifier\n"
            "Draw a digit or a whole number, or upload a photo. Each digit is prepared the way MNIST "
            "was made (ink fitted into 20x20, centred by mass in 28x28), and \"What the model sees\" "
            "shows the 28x28 image the network gets. A letter, a shape or a scribble is answered "
            "\"not a digit\"."
        )
        with gr.Row():
            with gr.Column():
                with gr.Tabs():
                    with gr.Tab("Draw"):
                        pad = stroke_pad("Draw a digit or a number", elem_id="pad")
                    with gr.Tab("Upload"):
                        upload = ImageFile(
                            label="Upload, paste or photograph a digit", type="filepath", image_mode=None,
                            sources=["upload", "clipboard", "webcam"], elem_id="upload",
                        )
            with gr.Column():
                # Every class, as the API returns them; the page shows the top three.
                label = gr.Label(label="Prediction", value=BLANK_MESSAGE, elem_id="prediction",
                                 elem_classes=gradio_workarounds.ANSWER_CLASS)
                preview = gr.Image(label="What the model sees (28x28 a digit)", interactive=False, height=220)
                digits = gr.AnnotatedImage(label="The digits found", visible=False, elem_id="digits")
        examples = sorted(str(path) for path in EXAMPLES_DIR.iterdir() if path.suffix in (".png", ".jpg"))
        if examples:
            gr.Examples(examples=examples, inputs=upload, label="Sample digits: MNIST test digits redrawn as users send them")
        gr.Markdown(f"Model: {source} · MNIST test accuracy {accuracy}", elem_id="model-source")

        shown_on_page = [label, preview, digits]
        # The newest strokes win: while an answer is on its way, only the last value waits.
        pad.change(show_strokes, pad, shown_on_page, api_visibility="private", trigger_mode="always_last",
                   show_progress="hidden")
        upload.change(show, upload, shown_on_page, api_visibility="private")

        # The API: the page never fires these; clients and MCP call them by name.
        api = gr.Button(visible=False)
        sketch = SketchFiles(type="filepath", image_mode="RGBA", format="png", layers=False,
                             canvas_size=CANVAS, visible=False)
        number, details = gr.Textbox(visible=False), gr.JSON(visible=False)
        api.click(predict, upload, [label, preview], api_name="predict")
        api.click(predict_sketch, sketch, [label, preview], api_name="predict_sketch")
        api.click(predict_strokes, pad, [label, preview], api_name="predict_strokes")
        api.click(read_number, upload, [number, details], api_name="read_number")
        api.click(read_number_sketch, sketch, [number, details], api_name="read_number_sketch")
        api.click(read_strokes, pad, [number, details], api_name="read_strokes")
        demo.load(None, js=gradio_workarounds.PAGE_JS)  # the top three shown
    # More requests wait in the queue, up to `max_queue`; the next ones are refused.
    demo.queue(default_concurrency_limit=concurrency or default_concurrency(0), max_size=max_queue)
    return demo


def default_concurrency(workers: int) -> int:
    """Requests each classifying event handles at once: `REQUESTS_PER_WORKER` per worker process,
    or one per core when the server classifies in its own threads (`workers` 0)."""
    return workers * REQUESTS_PER_WORKER if workers else os.cpu_count() or 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get(MODEL_ENV),
                        help=f"weights: a folder or OWNER/NAME[@REVISION] (default: ${MODEL_ENV} or weights/)")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=os.environ.get("GRADIO_SERVER_PORT", "7860"))
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    parser.add_argument("--mcp", action="store_true",
                        default=os.environ.get(MCP_ENV, "").strip().lower() in MCP_ENV_ON,
                        help=f"also serve the API (/predict, /read_number, ...) as MCP tools at /gradio_api/mcp/ "
                             f"(default: on when ${MCP_ENV} is true, 1 or yes)")
    parser.add_argument("--workers", type=int, default=os.environ.get(WORKERS_ENV, str(default_workers())),
                        help=f"processes that classify; 0: in the server's own threads "
                             f"(default: ${WORKERS_ENV} or one per core, at most 4: {default_workers()} here)")
    parser.add_argument("--max-queue", type=int, default=os.environ.get(MAX_QUEUE_ENV, str(MAX_QUEUE)),
                        help=f"requests that may wait; more are refused at once (default: ${MAX_QUEUE_ENV} or {MAX_QUEUE})")
    args = parser.parse_args(argv)
    if args.workers < 0:
        parser.error(f"--workers must be 0 or more, not {args.workers}")
    return args


def start_classifier(model: DigitNet, workers: int) -> Predictor:
    """`workers` 0: a `Classifier` in the server's own threads; otherwise a `ClassifierPool` of
    that many worker processes, started now rather than on the first requests."""
    if workers == 0:
        return Classifier(model)
    pool = ClassifierPool(model, workers)
    pool.warm_up()
    return pool


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    limit_malloc_arenas()  # while no thread has started yet: the pool's, Gradio's
    torch.set_num_threads(1)
    gradio_workarounds.apply()  # process-wide; warns on a Gradio other than GRADIO_CHECKED
    try:
        loaded = load_model(args.model)
    except (HubError, WeightsError) as error:
        sys.exit(f"error: {error}")
    classifier = start_classifier(loaded.model, args.workers)
    try:
        demo = build_demo(classifier, loaded.source, loaded.metrics, args.max_queue, default_concurrency(args.workers))
        serve(demo, args.host, args.port, share=args.share, mcp=args.mcp)
    finally:
        classifier.close()


if __name__ == "__main__":
    main()
