"""The README's picture of the app: a real Chromium writes a number on the pad of `python app.py`.

    python docs/make_screenshot.py            # writes docs/app.png

The page is shown as a person sees it right after writing: the strokes, the number read, and
each digit boxed with its answer. The picture is shrunk and stored with a small palette, so it
stays a few tens of KB. Chromium comes from Debian (`apt-get install chromium`), driven by
Playwright, and writes with the mouse as the browser tests do (`testkit.browser`, `testkit.pen`).
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
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, LABEL, draw, on_pad  # noqa: E402
from testkit.pen import DIGITS, place  # noqa: E402

NUMBER = "2026"
WIDTH = 900  # pixels of the stored picture


def take(url: str) -> Image.Image:
    """Write `NUMBER` on the pad of the page at `url` and return the screenshot once it is read."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(**DESKTOP)
        page.goto(url)
        page.wait_for_selector(LABEL, timeout=60_000)
        for i, digit in enumerate(NUMBER):  # pad units: 900 across, 450 down
            draw(page, on_pad(page, place(DIGITS[digit], 150 + 160 * i, 110, 230)))
        page.wait_for_function(f"() => document.querySelector({LABEL!r})?.innerText === {NUMBER!r}",
                               timeout=30_000)
        page.wait_for_timeout(1000)  # the pictures load after the answer
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
