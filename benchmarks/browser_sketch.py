"""Record what a browser sends when someone draws on the app's Sketchpad, to benchmark with.

Most of the app's traffic is the Sketchpad's composite, a PNG that the browser encodes, and how
long a PNG takes to decode depends on its encoder: Chromium filters every row of a drawing with
"Up", while Pillow's adaptive filters make a PNG of a similar drawing that decodes several times
slower (docs/results.md). So `benchmarks.app_latency` times the real thing, made
by this script: it serves the app's own `build_demo` in this process, draws a 7 with mouse
strokes in headless Chromium (as `tests/test_browser.py` does) and saves the composite the app
received, byte for byte.

    python -m benchmarks.browser_sketch    # writes benchmarks/inputs/sketch_chromium_800x800.png

Needs Debian's chromium and Playwright (`requirements-dev.txt`); the PNG is committed, so the
benchmarks themselves need neither.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from playwright.sync_api import sync_playwright  # noqa: E402

from app import build_demo  # noqa: E402
from mnist_model.loader import load_model  # noqa: E402
from mnist_model.predict import Classifier, Prediction  # noqa: E402
from mnist_model.preprocess import ImageSource  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "inputs" / "sketch_chromium_800x800.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SEVEN = [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]  # one stroke, in fractions of the drawing area


class Recording(Classifier):
    """A `Classifier` that keeps the bytes of the last Sketchpad composite it was given."""

    composite: bytes | None = None

    def predict(self, source: ImageSource | None) -> Prediction:
        if isinstance(source, dict) and source.get("composite") is not None:
            composite = source["composite"]  # the browser's bytes, or the path Gradio cached them at
            self.composite = composite if isinstance(composite, bytes) else Path(composite).read_bytes()
        return super().predict(source)


def record(output: Path) -> None:
    classifier = Recording(load_model().model)
    # No gradio_workarounds.apply(): one drawing, no concurrent traffic for Gradio's sweep to die of.
    demo = build_demo(classifier, "benchmarks.browser_sketch", None)
    _, url, _ = demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url)
            page.wait_for_selector("#prediction", timeout=60_000)
            page.get_by_role("tab", name="Draw").click()
            page.locator('button[aria-label="Brush"]').first.click()
            box = page.locator("canvas").first.bounding_box()
            side = min(box["width"], box["height"]) * 0.8  # the drawing area, centred in the canvas
            left, top = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
            points = [(left + x * side, top + y * side) for x, y in SEVEN]
            page.mouse.move(*points[0])
            page.mouse.down()
            for point in points[1:]:
                page.mouse.move(*point, steps=20)
            page.mouse.up()
            page.wait_for_function(  # the answer to the finished stroke is shown
                """() => document.querySelector('#prediction [data-testid="label-output-value"]')
                           ?.innerText === '7'""",
                timeout=30_000,
            )
            browser.close()
    finally:
        demo.close()
    if classifier.composite is None:
        raise SystemExit("error: the app received no Sketchpad composite")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(classifier.composite)
    print(f"wrote {output} ({len(classifier.composite):,} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    record(parser.parse_args().output)


if __name__ == "__main__":
    main()
