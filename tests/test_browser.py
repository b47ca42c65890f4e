"""A person's view: a real Chromium draws on the Sketchpad and uploads a file.

Chromium comes from Debian (`apt-get install chromium`), driven by Playwright. Where it is
missing these tests skip with the reason, except in CI (`CI=true`), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from mnist_model.data import load_mnist

pytestmark = pytest.mark.slow  # Chromium against the app's server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PREDICTION = '#prediction [data-testid="label-output-value"]'

if os.environ.get("CI") != "true":  # in CI a missing browser must fail, not skip
    if not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
    pytest.importorskip("playwright", reason="playwright is not installed (pip install -r requirements-dev.txt)")
from playwright.sync_api import Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def page(app_url: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(app_url)
        page.wait_for_selector("#prediction", timeout=60_000)
        yield page
        browser.close()


def wait_for_prediction(page: Page, previous: str) -> str:
    """The label's text once the event that changes it has finished."""
    page.wait_for_function(
        """([selector, previous]) => {
            const value = document.querySelector(selector);
            const tracker = document.querySelector('#prediction [data-testid="status-tracker"]');
            return value && value.innerText !== previous && (!tracker || tracker.classList.contains('hide'));
        }""",
        arg=[PREDICTION, previous],
        timeout=30_000,
    )
    return page.inner_text(PREDICTION)


def test_drawing_a_seven_on_the_sketchpad(page: Page) -> None:
    page.get_by_role("tab", name="Draw").click()
    before = page.inner_text(PREDICTION)
    assert before.startswith("Draw a digit")
    page.locator('button[aria-label="Brush"]').first.click()
    canvas = page.locator("canvas").first.bounding_box()
    # The white drawing area is a square in the middle of the canvas element.
    side = min(canvas["width"], canvas["height"]) * 0.8
    left = canvas["x"] + (canvas["width"] - side) / 2
    top = canvas["y"] + (canvas["height"] - side) / 2

    def at(x: float, y: float) -> tuple[float, float]:
        return left + x * side, top + y * side

    page.mouse.move(*at(0.3, 0.25))
    page.mouse.down()
    page.mouse.move(*at(0.7, 0.25), steps=15)
    page.mouse.move(*at(0.45, 0.8), steps=25)
    page.mouse.up()
    assert wait_for_prediction(page, before) == "7"


def test_uploading_a_digit_file(page: Page, data_dir: Path, tmp_path: Path) -> None:
    images, labels = load_mnist(data_dir, train=False)
    digit = Image.fromarray(255 - images[3].numpy()).resize((300, 300))  # a 0, dark on white
    path = tmp_path / "zero.png"
    digit.save(path)
    page.get_by_role("button", name="Clear", exact=True).click()
    page.wait_for_function(f"document.querySelector('{PREDICTION}').innerText.startsWith('Draw a digit')")
    page.get_by_role("tab", name="Upload").click()
    before = page.inner_text(PREDICTION)
    page.locator('#upload input[type="file"]').set_input_files(str(path))
    assert wait_for_prediction(page, before) == str(int(labels[3]))
