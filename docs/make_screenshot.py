"""The README's picture of the app: a real Chromium draws a 7 on the Sketchpad of `python app.py`.

    python docs/make_screenshot.py            # writes docs/app.png

The page is shown as a person sees it right after drawing: the stroke, the answer and the 28x28
model input. The picture is shrunk and stored with a small palette, so it stays a few tens of KB.
Chromium comes from Debian (`apt-get install chromium`), driven by Playwright.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from testkit.app import running_app  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1200, "height": 760}
WIDTH = 900  # pixels of the stored picture
SEVEN = [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)]  # a stroke, as fractions of the drawing area


def take(url: str) -> Image.Image:
    """Draw a 7 on the page at `url` and return the screenshot once the answer shows."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url)
        page.wait_for_selector("#prediction", timeout=60_000)
        page.locator('button[aria-label="Brush"].highlight').first.wait_for()  # the page picks it
        box = page.locator("canvas").first.bounding_box()
        side = min(box["width"], box["height"]) * 0.8
        left, top = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
        (x, y), *rest = SEVEN
        page.mouse.move(left + x * side, top + y * side)
        page.mouse.down()
        for x, y in rest:
            page.mouse.move(left + x * side, top + y * side, steps=20)
        page.mouse.up()
        page.wait_for_function(
            "() => document.querySelector('#prediction [data-testid=\"label-output-value\"]')"
            "?.innerText === '7'", timeout=30_000)
        page.wait_for_timeout(500)  # the preview image loads after the answer
        picture = Image.open(io.BytesIO(page.screenshot(full_page=True)))
        browser.close()
    return picture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "app.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        with running_app(["--workers", "0"], dict(os.environ), Path(folder) / "app.log") as app:
            picture = take(app.url)
    height = round(picture.height * WIDTH / picture.width)
    small = picture.convert("RGB").resize((WIDTH, height), Image.Resampling.LANCZOS)
    small.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB, {WIDTH}x{height})")


if __name__ == "__main__":
    main()
