"""Record what a browser sends when someone draws on a Gradio Sketchpad, to benchmark with.

`/predict_sketch` and `/read_number_sketch` take a Sketchpad value, and how long its composite
PNG takes to decode depends on its encoder: Chromium filters every row of a drawing with "Up",
while Pillow's adaptive filters make a PNG of a similar drawing that decodes several times slower
(docs/results.md). So `benchmarks.app_latency` times the real thing, made by this script: it
serves a stock 800x800 `gr.Sketchpad` in this process (the app's page draws on a pad of its own,
`mnist_model.pad`, which sends strokes), draws a 7 on it with the mouse in headless Chromium, and
saves the composite the server received, byte for byte.

    python -m benchmarks.browser_sketch    # writes benchmarks/inputs/sketch_chromium_800x800.png

Needs Debian's chromium and Playwright (`requirements-dev.txt`); the PNG is committed, so the
benchmarks themselves need neither.
"""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from testkit.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, draw  # noqa: E402
from testkit.pen import DIGITS, place  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "inputs" / "sketch_chromium_800x800.png"
CANVAS = (800, 800)  # gr.Sketchpad's default


def record(output: Path) -> None:
    received: list[bytes] = []
    arrived = threading.Event()

    def keep(value: dict | None) -> str:
        if value and value.get("composite"):  # the path Gradio cached the browser's bytes at
            received.append(Path(value["composite"]).read_bytes())
            arrived.set()
        return "received"

    with gr.Blocks() as demo:
        sketch = gr.Sketchpad(type="filepath", image_mode="RGBA", format="png", layers=False, canvas_size=CANVAS)
        sketch.change(keep, sketch, gr.Textbox(), trigger_mode="always_last")
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(**DESKTOP)
            page.goto(url)
            page.locator('button[aria-label="Brush"]').first.click()  # it opens with no tool chosen
            box = page.locator("canvas").first.bounding_box()
            side = min(box["width"], box["height"]) * 0.7  # the 7 in the middle of the canvas
            left, top = box["x"] + (box["width"] - 0.6 * side) / 2, box["y"] + (box["height"] - side) / 2
            draw(page, place(DIGITS["7"], left, top, side))
            if not arrived.wait(60):
                raise SystemExit("error: the server received no Sketchpad composite within 60 s")
            browser.close()
    finally:
        demo.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(received[-1])
    print(f"wrote {output} ({len(received[-1]):,} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    record(parser.parse_args().output)


if __name__ == "__main__":
    main()
