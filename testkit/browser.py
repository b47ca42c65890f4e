"""A person at the page in headless Chromium: a desktop with a mouse, or a phone with a finger.

The browser tests and `benchmarks.browser_latency` open the app the same way and write on its
pad the same way, strokes of points (`testkit.pen`) placed on the pad's box on screen: the mouse
through Playwright, a finger through the browser's own touch events (Playwright's tap is no
stroke), both moving every `STEP_PX` CSS pixels with a pause of `STEP_MS`, about a person's pace
on a busy machine. Chromium is Debian's (`apt-get install chromium`).
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page

from testkit.pen import Stroke, dense

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 1000}}
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
                         "has_touch": True}
PAD_CANVAS = "#pad canvas"
LABEL = '#prediction [data-testid="label-output-value"]'
STEP_PX, STEP_MS = 8.0, 8


def pad_box(page: Page) -> dict[str, float]:
    """The pad's canvas on screen: x, y, width, height in CSS pixels."""
    box = page.locator(PAD_CANVAS).bounding_box()
    if box is None:
        raise RuntimeError("the page shows no pad")
    return box


def on_pad(page: Page, strokes: list[Stroke], units: float = 900) -> list[Stroke]:
    """`strokes` in pad units (`units` across the pad) as page coordinates."""
    box = pad_box(page)
    scale = box["width"] / units
    return [[(box["x"] + x * scale, box["y"] + y * scale) for x, y in stroke] for stroke in strokes]


def draw(page: Page, strokes: list[Stroke], touch: bool = False) -> None:
    """Write `strokes` (page coordinates) with the mouse, or with a finger when `touch`."""
    cdp = page.context.new_cdp_session(page) if touch else None
    for stroke in strokes:
        points = dense(stroke, STEP_PX)
        if cdp is None:
            page.mouse.move(*points[0])
            page.mouse.down()
            for point in points[1:]:
                page.wait_for_timeout(STEP_MS)
                page.mouse.move(*point)
            page.mouse.up()
            continue
        for kind, (x, y) in zip(["touchStart"] + ["touchMove"] * (len(points) - 1), points):
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
            page.wait_for_timeout(STEP_MS)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    if cdp is not None:
        cdp.detach()
