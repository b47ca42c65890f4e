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
--mcp also MCP tools of the same names; `mnist_model.endpoints` holds them, their docstrings
describing the tools, and the page's own private events: the pad's (`mnist_model.pad`) while the
pen moves and when it lifts, and the upload's, which show a digit's classes, or a number and each
of its digits. What depends on Gradio's internals is in `mnist_model.gradio_workarounds`, the
server's limits in `mnist_model.serving`.
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
from mnist_model.answers import BLANK_MESSAGE
from mnist_model.endpoints import Endpoints
from mnist_model.gradio_workarounds import ImageFile, SketchFiles
from mnist_model.hub import HubError
from mnist_model.loader import load_model
from mnist_model.memory import limit_malloc_arenas
from mnist_model.model import DigitNet
from mnist_model.pad import PAD_HEIGHT, PAD_WIDTH, stroke_pad
from mnist_model.pool import ClassifierPool, default_workers
from mnist_model.predict import Classifier, Predictor
from mnist_model.serving import serve
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
    """The interface: a pad to draw on and an upload, the top classes, and what the model sees.

    `concurrency`: requests each classifying event handles at once (default: one per core).
    Whoever serves it under traffic calls `gradio_workarounds.apply()` first, as `main` does, or
    Gradio's own cache sweep runs, which dies under concurrent requests.
    """
    endpoints = Endpoints(classifier)
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
        pad.change(endpoints.show_strokes, pad, shown_on_page, api_visibility="private", trigger_mode="always_last",
                   show_progress="hidden")
        upload.change(endpoints.show, upload, shown_on_page, api_visibility="private")

        # The API: the page never fires these; clients and MCP call them by name.
        api = gr.Button(visible=False)
        sketch = SketchFiles(type="filepath", image_mode="RGBA", format="png", layers=False,
                             canvas_size=CANVAS, visible=False)
        number, details = gr.Textbox(visible=False), gr.JSON(visible=False)
        api.click(endpoints.predict, upload, [label, preview], api_name="predict")
        api.click(endpoints.predict_sketch, sketch, [label, preview], api_name="predict_sketch")
        api.click(endpoints.predict_strokes, pad, [label, preview], api_name="predict_strokes")
        api.click(endpoints.read_number, upload, [number, details], api_name="read_number")
        api.click(endpoints.read_number_sketch, sketch, [number, details], api_name="read_number_sketch")
        api.click(endpoints.read_strokes, pad, [number, details], api_name="read_strokes")
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
