"""A person's view: a real Chromium draws on the Sketchpad, with a mouse and by touch, and uploads.

The person never picks a tool first: the page must have the brush ready when it opens and after
every Clear. Chromium comes from Debian (`apt-get install chromium`), driven by Playwright. Where
it is missing these tests skip with the reason, except in CI (`CI=true`), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from mnist_model.data import load_mnist
from testkit.app import REPO_ROOT

pytestmark = pytest.mark.slow  # Chromium against the app's server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PREDICTION = '#prediction [data-testid="label-output-value"]'
SEVEN = [(-0.25, -0.3), (0.25, -0.3), (-0.05, 0.35)]  # a stroke, from the drawing area's centre
ONE = [(0.0, -0.35), (0.0, 0.35)]
FOUR = [[(-0.15, -0.35), (-0.25, 0.1), (0.25, 0.1)], [(0.1, -0.3), (0.1, 0.4)]]  # in two strokes
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}

if os.environ.get("CI") != "true":  # in CI a missing browser must fail, not skip
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -r requirements-dev.txt)")
from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser: Browser, url: str, **options) -> Page:
    page = browser.new_page(**options)
    page.goto(url)
    page.wait_for_selector("#prediction", timeout=60_000)
    return page


@pytest.fixture(scope="module")
def page(browser: Browser, app_url: str) -> Iterator[Page]:
    page = open_page(browser, app_url, viewport={"width": 1280, "height": 1000})
    yield page
    page.close()


def wait_for_prediction(page: Page, previous: str) -> str:
    """The label's text once the event that changes it has finished."""
    page.wait_for_function(
        """([selector, previous]) => {
            const value = document.querySelector(selector);
            const tracker = document.querySelector('#prediction [data-testid="status-tracker"]');
            return value && value.innerText !== previous && (!tracker || tracker.classList.contains('hide'));
        }""",
        arg=[PREDICTION, previous],
        timeout=60_000,  # generous: a busy 2-core machine queues events for seconds
    )
    return page.inner_text(PREDICTION)


def clear(page: Page) -> None:
    """The page's Clear button, and wait until the blank answer shows."""
    page.get_by_role("button", name="Clear", exact=True).click()
    wait_for_blank(page)
    brush_ready(page)


def brush_ready(page: Page) -> None:
    """Wait until the brush is the chosen tool again: the page picks it once the canvas resets."""
    page.locator('button[aria-label="Brush"].highlight').first.wait_for(timeout=10_000)
    page.wait_for_timeout(300)  # the canvas may reset once more after the value arrives
    page.locator('button[aria-label="Brush"].highlight').first.wait_for(timeout=10_000)


def wait_for_blank(page: Page) -> None:
    page.wait_for_function(
        """(selector) => {
            const value = document.querySelector(selector);
            const tracker = document.querySelector('#prediction [data-testid="status-tracker"]');
            return value && value.innerText.startsWith('Draw a digit') && (!tracker || tracker.classList.contains('hide'));
        }""",
        arg=PREDICTION, timeout=60_000,  # generous: a busy 2-core machine queues events for seconds
    )


def drawing_area(page: Page) -> tuple[float, float, float]:
    """Centre (x, y) and half side of the white drawing area, in the middle of the canvas."""
    canvas = page.locator("canvas").first.bounding_box()
    half = min(canvas["width"], canvas["height"]) * 0.4
    return canvas["x"] + canvas["width"] / 2, canvas["y"] + canvas["height"] / 2, half


def draw_with_mouse(page: Page, stroke: list[tuple[float, float]]) -> None:
    x, y, half = drawing_area(page)
    page.mouse.move(x + stroke[0][0] * half, y + stroke[0][1] * half)
    page.mouse.down()
    for dx, dy in stroke[1:]:
        page.mouse.move(x + dx * half, y + dy * half, steps=20)
    page.mouse.up()


def draw_with_finger(page: Page, stroke: list[tuple[float, float]]) -> None:
    """A touch stroke, sent as the browser's own touch events (Playwright's tap is no stroke)."""
    x, y, half = drawing_area(page)
    points = []
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
        points += [(x0 + (x1 - x0) * i / 15, y0 + (y1 - y0) * i / 15) for i in range(16)]
    cdp = page.context.new_cdp_session(page)
    kinds = ["touchStart"] + ["touchMove"] * (len(points) - 1)
    for kind, (dx, dy) in zip(kinds, points):
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x + dx * half, "y": y + dy * half}]})
        page.wait_for_timeout(10)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_a_seven_drawn_with_the_mouse_without_choosing_a_tool(page: Page) -> None:
    before = page.inner_text(PREDICTION)
    assert before.startswith("Draw a digit")
    draw_with_mouse(page, SEVEN)
    assert wait_for_prediction(page, before) == "7"


def test_one_event_per_stroke_answers_with_the_top_three(page: Page) -> None:
    clear(page)
    joins: list[str] = []
    page.on("request", lambda request: joins.append(request.url) if "/queue/join" in request.url else None)
    draw_with_mouse(page, ONE)
    assert wait_for_prediction(page, page.inner_text(PREDICTION)) == "1"
    page.wait_for_timeout(1000)  # any event that followed the answer would have started by now
    assert len(joins) == 1, joins
    rows = page.locator("#prediction button.confidence-set")
    assert rows.count() == 11  # every class reaches the page, as the API returns them ...
    assert sum(rows.nth(i).is_visible() for i in range(11)) == 3  # ... and three are shown


def test_after_clear_the_brush_is_ready_again(page: Page) -> None:
    clear(page)
    draw_with_mouse(page, SEVEN)
    assert wait_for_prediction(page, page.inner_text(PREDICTION)) == "7"
    page.locator('button[aria-label="Clear canvas"]').first.click()  # the Sketchpad's own trash
    wait_for_blank(page)
    brush_ready(page)
    draw_with_mouse(page, ONE)
    assert wait_for_prediction(page, page.inner_text(PREDICTION)) == "1"


def draw_number(page: Page, digits: list[list[list[tuple[float, float]]]]) -> None:
    """Digits written side by side across the canvas, each of strokes as `draw_with_mouse` takes
    them, a third of the canvas's height tall."""
    canvas = page.locator("canvas").first.bounding_box()
    half = canvas["height"] * 0.3
    y = canvas["y"] + canvas["height"] / 2
    for i, strokes in enumerate(digits):
        x = canvas["x"] + canvas["width"] * (i + 1) / (len(digits) + 1)
        for stroke in strokes:
            page.mouse.move(x + stroke[0][0] * half, y + stroke[0][1] * half)
            page.mouse.down()
            for dx, dy in stroke[1:]:
                page.mouse.move(x + dx * half, y + dy * half, steps=20)
            page.mouse.up()


def test_a_three_digit_number_drawn_with_the_mouse_is_read(page: Page) -> None:
    clear(page)
    before = page.inner_text(PREDICTION)
    draw_number(page, [[SEVEN], FOUR, [ONE]])
    page.wait_for_function(  # the last stroke's answer: every stroke answers in turn
        """(selector) => { const v = document.querySelector(selector); return v && v.innerText === '741'; }""",
        arg=PREDICTION, timeout=60_000,
    )
    boxes = page.locator("#digits")
    assert boxes.is_visible()  # each digit's answer over the drawing
    assert boxes.locator("img").count() >= 1 and "7 " in boxes.inner_text() and "1 " in boxes.inner_text()
    assert page.inner_text(PREDICTION) != before
    clear(page)
    assert not page.locator("#digits").is_visible()  # and gone with the drawing


def test_the_toolbar_still_works(browser: Browser, app_url: str) -> None:
    """A person who clicks the brush icon first anyway, on a fresh page, still draws."""
    page = open_page(browser, app_url, viewport={"width": 1280, "height": 1000})
    try:
        page.locator('button[aria-label="Brush"]').first.click()
        before = page.inner_text(PREDICTION)
        draw_with_mouse(page, SEVEN)
        assert wait_for_prediction(page, before) == "7"
    finally:
        page.close()


def test_the_blank_state_is_a_quiet_hint_and_the_footer_names_no_server_path(page: Page) -> None:
    clear(page)
    hint = page.locator(PREDICTION)
    assert hint.inner_text() == "Draw a digit, or upload a picture of one"
    assert hint.evaluate("e => getComputedStyle(e).fontWeight") == "400"  # not the answer's bold heading
    footer = page.inner_text("#model-source")
    assert "the shipped weights" in footer and "MNIST test accuracy" in footer
    assert str(REPO_ROOT) not in page.content() and "/weights" not in footer


def test_uploading_a_digit_file(page: Page, data_dir: Path, tmp_path: Path) -> None:
    images, labels = load_mnist(data_dir, train=False)
    digit = Image.fromarray(255 - images[3].numpy()).resize((300, 300))  # a 0, dark on white
    path = tmp_path / "zero.png"
    digit.save(path)
    clear(page)
    page.get_by_role("tab", name="Upload").click()
    before = page.inner_text(PREDICTION)
    page.locator('#upload input[type="file"]').set_input_files(str(path))
    assert wait_for_prediction(page, before) == str(int(labels[3]))
    page.get_by_role("tab", name="Draw").click()


def test_a_phone_draws_by_touch_without_choosing_a_tool(browser: Browser, app_url: str) -> None:
    page = open_page(browser, app_url, **PHONE)
    try:
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["viewport"]["width"], f"the page is {width} px wide on a 390 px phone"
        page.locator("canvas").first.scroll_into_view_if_needed()
        before = page.inner_text(PREDICTION)
        draw_with_finger(page, SEVEN)
        assert wait_for_prediction(page, before) == "7"
        clear(page)  # and the brush is chosen again (`clear` waits for it)
        draw_with_finger(page, ONE)
        assert wait_for_prediction(page, page.inner_text(PREDICTION)) == "1"
    finally:
        page.close()
