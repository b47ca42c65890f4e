"""Numbers whose digits touch, drawn with the mouse on the app's pad in a real browser, and read.

`benchmarks.number_accuracy` writes its numbers with MNIST's digits; a person draws with a
mouse on the page, and a hand in a hurry runs one digit into the next. This starts `python
app.py`, has headless Chromium (Debian's, driven by Playwright) draw each of `NUMBERS` on the
pad stroke by stroke (mouse down, moves, up), each digit's box overlapping the one before by
the number's overlap (of the digits' height), and reads the number the page shows in its Label
once the answer settles. Before it draws, it checks that the number's ink really touches:
drawn by the server's own renderer (`mnist_model.strokes.render_strokes`), the line finder
sees fewer groups of ink than digits.

    python -m benchmarks.browser_numbers [--out benchmarks/results/browser_numbers.txt]

Goal: at least 9 of the 10 read exactly. Needs Debian's chromium and Playwright
(`requirements-dev.txt`); all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from benchmarks.number_accuracy import machine
from mnist_model.decode import as_loaded
from mnist_model.line import find_line
from mnist_model.pad import PAD_HEIGHT, PAD_WIDTH
from mnist_model.strokes import render_strokes
from testkit.app import running_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PREDICTION = '#prediction [data-testid="label-output-value"]'
GOAL = 9  # of the ten, read exactly

Stroke = list[tuple[float, float]]  # in the digit's box: (0, 0) top left, (1, 1) bottom right


def _ring(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, turn: float = 1.0) -> Stroke:
    steps = 24
    return [(cx + rx * math.sin(start + turn * 2 * math.pi * k / steps), cy - ry * math.cos(start + turn * 2 * math.pi * k / steps))
            for k in range(steps + 1)]  # fmt: skip


# Each digit as a person draws it with a mouse, and its width over its height
DIGITS: dict[str, tuple[list[Stroke], float]] = {
    "0": ([_ring(0.5, 0.5, 0.45, 0.5)], 0.6),
    "1": ([[(0.4, 0.15), (0.6, 0.0), (0.55, 1.0)]], 0.25),
    "2": ([[(0.1, 0.25), (0.35, 0.02), (0.7, 0.05), (0.85, 0.3), (0.1, 0.98), (0.95, 0.98)]], 0.6),
    "3": ([[(0.1, 0.1), (0.5, 0.0), (0.85, 0.15), (0.8, 0.38), (0.4, 0.5), (0.85, 0.62), (0.9, 0.85), (0.5, 1.0), (0.1, 0.9)]], 0.55),
    "4": ([[(0.55, 0.0), (0.05, 0.65), (0.95, 0.65)], [(0.7, 0.3), (0.7, 1.0)]], 0.6),
    "5": ([[(0.85, 0.0), (0.2, 0.0), (0.15, 0.45), (0.6, 0.4), (0.9, 0.65), (0.75, 0.95), (0.35, 1.0), (0.1, 0.85)]], 0.55),
    "6": ([[(0.8, 0.05), (0.3, 0.35), (0.1, 0.75), (0.4, 1.0), (0.85, 0.8), (0.6, 0.55), (0.15, 0.7)]], 0.55),
    "7": ([[(0.05, 0.05), (0.95, 0.05), (0.4, 1.0)]], 0.55),
    "8": ([_ring(0.5, 0.25, 0.32, 0.25, math.pi), _ring(0.5, 0.74, 0.42, 0.26)], 0.55),
    "9": ([_ring(0.5, 0.3, 0.38, 0.3, math.pi / 2, -1.0) + [(0.85, 0.6), (0.8, 1.0)]], 0.55),
}
# (number, how far each digit's box overlaps the one before, of the digits' height)
NUMBERS: list[tuple[str, float]] = [
    ("60", 0.12), ("21", 0.08), ("41", 0.1), ("70", 0.12), ("2026", 0.1),
    ("1975", 0.08), ("307", 0.1), ("58", 0.1), ("426", 0.1), ("93", 0.1),
]  # fmt: skip
HEIGHT = 0.8  # a digit's height, of the pad's: a number written across the pad


def layout(number: str, overlap: float) -> list[list[tuple[float, float]]]:
    """The number's strokes in pad units, centred on the pad, each digit's box overlapping the
    one before by `overlap` of the height."""
    height = HEIGHT * PAD_HEIGHT
    widths = [DIGITS[digit][1] * height for digit in number]
    total = sum(widths) - overlap * height * (len(number) - 1)
    left, top = (PAD_WIDTH - total) / 2, (PAD_HEIGHT - height) / 2
    strokes = []
    for digit, width in zip(number, widths):
        for stroke in DIGITS[digit][0]:
            strokes.append([(left + u * width, top + v * height) for u, v in stroke])
        left += width - overlap * height
    return strokes


def touching(strokes: list[list[tuple[float, float]]], digits: int) -> bool:
    """Whether the server's drawing of `strokes` holds fewer groups of ink than `digits`."""
    picture = render_strokes(PAD_WIDTH, PAD_HEIGHT, [[(round(x), round(y)) for x, y in s] for s in strokes])
    return len(find_line(as_loaded(picture)).groups) < digits


def draw(page: Page, strokes: list[list[tuple[float, float]]]) -> None:
    """The strokes drawn with the mouse on the pad, in pad units."""
    box = page.locator("#pad canvas").bounding_box()
    scale = box["width"] / PAD_WIDTH
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0] * scale, box["y"] + stroke[0][1] * scale)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=4)
        page.mouse.up()


def settled(page: Page, quiet_s: float = 1.5, limit_s: float = 30.0) -> str:
    """The Label's text once it has not changed for `quiet_s`."""
    last, since, deadline = None, time.monotonic(), time.monotonic() + limit_s
    while time.monotonic() < deadline:
        text = page.inner_text(PREDICTION) if page.locator(PREDICTION).count() else ""
        if text != last:
            last, since = text, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return text
        time.sleep(0.1)
    return last or ""


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    for number, overlap in NUMBERS:
        if not touching(layout(number, overlap), len(number)):
            raise SystemExit(f"{number}: no digits touch at overlap {overlap}; the benchmark's layout is wrong")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    report = []
    with tempfile.TemporaryDirectory() as folder, running_app([], env, Path(folder) / "app.log") as app:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(app.url)
            page.wait_for_selector("#pad canvas", timeout=60_000)
            for number, overlap in NUMBERS:
                page.locator("#pad .pad-clear").click()
                settled(page)
                draw(page, layout(number, overlap))
                read = settled(page).strip()
                report.append((number, overlap, read))
                print(f"  {number:6} overlap {overlap:.0%}: read {read!r}", flush=True)
            browser.close()
    right = sum(read == number for number, _, read in report)
    lines = [f"{number:6} overlap {overlap:4.0%}  read {read!r:10} {'ok' if read == number else 'MISS'}"
             for number, overlap, read in report]  # fmt: skip
    lines += [f"\n{right} of {len(report)} read exactly (goal >= {GOAL}: {'met' if right >= GOAL else 'NOT met'})",
              f"machine: {machine()}"]  # fmt: skip
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            "Numbers with touching digits drawn with the mouse on the app's pad in headless Chromium "
            "(python -m benchmarks.browser_numbers)\n\n" + text + "\n"
        )


if __name__ == "__main__":
    main()
