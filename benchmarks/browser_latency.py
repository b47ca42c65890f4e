"""How long a person waits for the answer after the pen lifts, in a real browser, desktop and phone.

`benchmarks.app_latency` times the app through `gradio_client`; a person waits for more: what the
page sends, the event, and the answer shown. This runs `python app.py` (default workers) and the
stock Sketchpad app (`serve_stock`: a stock 800x800 `gr.Sketchpad` whose change event answers
with a constant Label value, no preprocessing, no model: what any Sketchpad app costs) side by
side, and has one headless Chromium (Debian's, driven by Playwright) write the same one-stroke
digits (`testkit.pen`: 7, 1, 2, 3) on both pages, alternately stroke by stroke (app first, then
stock first), so that a drifting machine slows both alike: on a desktop page (1280x1000) with the
mouse, and on a phone page (390x844, touch, device scale factor 2) with a finger
(`testkit.browser`), each digit about half the phone's width tall. Between strokes the drawing is
cleared with the pad's own Clear (the Sketchpad's trash) and the page left to settle.

Mouse-up to answer, on the page's own clock (`performance.now()`): from the `pointerup` (a
capturing listener) to the answer to the finished stroke on `#prediction`: the time its event's
`process_completed` message arrives (read from a copy of the `queue/data` stream) or, when the
label changes after that event was sent, that change. The app's pad also sends the stroke while
it is drawn (`mnist_model.pad`), so earlier answers may show first; only the last event counts.
The stock app takes turns among three answers so that its label changes on every stroke too.
Also counted per stroke: the requests the page sends from pen-down to the answer and their bytes.

`--at-once` also opens fresh pages, 3 desktop and 3 phone, and writes a digit the moment the pad
shows, and writes 30 digits (0 to 9 at three places and sizes) on the desktop pad, each cleared
after: both must read every one. Goals: p50 at most 300 ms on the desktop, 500 ms on the phone,
and at most 0.15 times the stock app's in the same run.

    python -m benchmarks.browser_latency [--strokes 12] [--at-once] [--out benchmarks/results/browser_latency.txt]

Needs Debian's chromium and Playwright (`requirements-dev.txt`). All traffic stays on 127.0.0.1;
the servers are subprocesses, stopped however the run ends, their Gradio cache in a temporary
folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from benchmarks.app_latency import BROWSER_SKETCH, machine, serving
from testkit import pen
from testkit.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, LABEL, PAD_CANVAS, PHONE, draw, on_pad

GOAL_MS = {"desktop": 300.0, "phone": 500.0}
GOAL_RATIO = 0.15  # app p50 / stock Sketchpad p50
ANSWER_TIMEOUT_S = 30.0
SETTLE_S = 0.3  # no request for this long after the last answer: the page is idle
STROKE_DIGITS = ["7", "1", "2", "3"]  # one stroke each
# 30 digits: every digit at three places and sizes on the 900x450 pad, (left, top, height) in pad units
SPOTS = [(330, 90, 270), (60, 40, 180), (520, 30, 390)]

# Runs before the page's own scripts: pointer-ups, the answer's text changes, each queue/join
# (its event id, from the response) and each process_completed (from a copy of the SSE stream).
INSTRUMENT_JS = r"""
(() => {
  const B = window.__bench = {ups: [], texts: [], joins: [], done: {}};
  window.addEventListener('pointerup', () => B.ups.push(performance.now()), true);
  let last = null;
  const look = () => {
    const el = document.querySelector('#prediction');
    const text = el ? el.innerText.trim() : '';
    if (text !== last) { last = text; B.texts.push([performance.now(), text]); }
  };
  const watch = () => new MutationObserver(look).observe(document.documentElement,
    {childList: true, subtree: true, characterData: true});
  if (document.documentElement) watch(); else document.addEventListener('DOMContentLoaded', watch);
  const orig = window.fetch;
  window.fetch = async function (input, init) {
    const url = typeof input === 'string' ? input : (input && input.url) || String(input);
    const t0 = performance.now();
    const resp = await orig.apply(this, arguments);
    if (url.includes('/queue/join')) {
      const join = {t: t0, id: null};
      B.joins.push(join);
      resp.clone().json().then((j) => { join.id = j.event_id; }).catch(() => {});
    } else if (url.includes('/queue/data') && resp.body) {
      const [mine, theirs] = resp.body.tee();
      (async () => {
        const reader = theirs.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const {value, done} = await reader.read();
          if (done) return;
          const now = performance.now();
          const lines = (buffer + value).split('\n');
          buffer = lines.pop();
          for (const line of lines) {
            if (!line.startsWith('data:')) continue;
            try {
              const m = JSON.parse(line.slice(5));
              if (m.msg === 'process_completed') B.done[m.event_id] = now;
            } catch (e) { /* partial or not JSON */ }
          }
        }
      })().catch(() => {});
      return new Response(mine, {status: resp.status, statusText: resp.statusText, headers: resp.headers});
    }
    return resp;
  };
})();
"""
# Every event sent has completed.
IDLE_JS = "() => window.__bench.joins.every(j => j.id !== null && j.id in window.__bench.done)"
# The stock Sketchpad opens with no tool chosen: click its Brush unless a tool is active.
BRUSH_JS = """() => {
  const b = [...document.querySelectorAll('button[aria-label="Brush"]')].find(b => b.offsetParent !== null);
  if (b && !b.classList.contains('highlight')) b.click();
}"""


@dataclass
class Stroke:
    """One stroke: the answer and when it showed (ms after the pointer-up), what the page sent."""

    server: str
    device: str
    digit: str
    answer: str | None
    answer_ms: float | None
    events: int  # queue/join requests from pen-down to the answer
    requests: int  # POSTs to the server in that time: events, uploads
    bytes_sent: int  # their bodies


class Tab:
    """One server's page in the shared browser, instrumented, with the page's POSTs recorded."""

    def __init__(self, browser: Browser, server: str, url: str, device: str) -> None:
        self.server, self.device, self.stock = server, device, server == "stock Sketchpad"
        self.page: Page = browser.new_page(**(PHONE if device == "phone" else DESKTOP))
        self.posts: list[tuple[float, int]] = []
        self.page.on("request", self._record)
        self.page.add_init_script(INSTRUMENT_JS)
        self.page.goto(url)
        self.canvas = "canvas" if self.stock else PAD_CANVAS
        self.page.wait_for_selector(self.canvas, state="visible", timeout=120_000)
        self.page.locator(self.canvas).first.scroll_into_view_if_needed()
        self.page.wait_for_timeout(1000)  # the page's own start-up

    def _record(self, request: object) -> None:
        if request.method == "POST" and "/gradio_api/" in request.url:
            self.posts.append((time.monotonic(), len(request.post_data_buffer or b"")))

    def bench(self, expression: str) -> object:
        return self.page.evaluate(f"() => window.__bench.{expression}")

    def settle(self) -> None:
        """Until every event sent has completed and no request has started for `SETTLE_S`."""
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while time.monotonic() < deadline:
            self.page.wait_for_function(IDLE_JS, timeout=ANSWER_TIMEOUT_S * 1000, polling=20)
            if time.monotonic() - max((t for t, _ in self.posts), default=0) >= SETTLE_S:
                return
            self.page.wait_for_timeout(SETTLE_S * 1000 / 3)

    def strokes(self, shape: list[pen.Stroke], height: float) -> list[pen.Stroke]:
        """`shape` `height` CSS px tall, in the middle of the canvas, in page coordinates."""
        box = self.page.locator(self.canvas).first.bounding_box()
        size = min(height, box["height"] * 0.85)
        return pen.place(shape, box["x"] + box["width"] / 2 - 0.3 * size, box["y"] + (box["height"] - size) / 2, size)

    def write(self, strokes: list[pen.Stroke], digit: str) -> Stroke:
        """Write `strokes` (page coordinates), wait for the answer, measure it, then clear."""
        if self.stock:
            self.page.evaluate(BRUSH_JS)
        joins, ups = self.bench("joins.length"), self.bench("ups.length")
        started = time.monotonic()
        draw(self.page, strokes, touch=self.device == "phone")
        try:
            self.page.wait_for_function(f"() => window.__bench.joins.length > {joins}", timeout=ANSWER_TIMEOUT_S * 1000)
            self.settle()
        except PlaywrightTimeout:  # a stroke that drew nothing is reported, not fatal
            pass
        sent = [size for t, size in self.posts if t >= started]
        data = self.page.evaluate("() => window.__bench")
        new = data["joins"][joins:]
        answer, answer_ms = None, None
        if new and len(data["ups"]) > ups and new[-1]["id"] in data["done"]:
            up, last = data["ups"][-1], new[-1]
            shown = [t for t, _ in data["texts"] if t >= last["t"]]
            answer_ms = max([data["done"][last["id"]], *shown]) - up
            answer = self.page.inner_text(LABEL).split("\n")[0].strip()
        self.clear()
        return Stroke(self.server, self.device, digit, answer, answer_ms, len(new), len(sent), sum(sent))

    def clear(self) -> None:
        button = 'button[aria-label="Clear canvas"]' if self.stock else "#pad .pad-clear"
        joins = self.bench("joins.length")
        self.page.locator(button).first.click()
        try:  # the drawing's change event; none when nothing was drawn
            self.page.wait_for_function(f"() => window.__bench.joins.length > {joins}", timeout=5000)
        except PlaywrightTimeout:
            pass
        self.settle()


def run_latency(browser: Browser, urls: dict[str, str], strokes: int) -> list[Stroke]:
    """`strokes` strokes per server and device, in turns, the order reversed every round."""
    results = []
    for device, height in (("desktop", 300.0), ("phone", PHONE["viewport"]["width"] / 2)):
        tabs = [Tab(browser, name, url, device) for name, url in urls.items()]
        for tab in tabs:  # one warm-up stroke each: first-use costs, not measured
            tab.write(tab.strokes(pen.DIGITS["7"], height), "7")
        for k in range(strokes):
            digit = STROKE_DIGITS[k % len(STROKE_DIGITS)]
            for tab in tabs if k % 2 == 0 else tabs[::-1]:
                tab.page.bring_to_front()
                result = tab.write(tab.strokes(pen.DIGITS[digit], height), digit)
                print(f"  {device} {tab.server}: {digit} -> {result.answer}, {fmt(result.answer_ms)} ms, "
                      f"{result.events} event(s), {result.bytes_sent:,} bytes", flush=True)
                results.append(result)
        for tab in tabs:
            tab.page.close()
    return results


def run_at_once(browser: Browser, url: str) -> dict[str, list[str]]:
    """Fresh pages written on at once (3 desktop, 3 phone), and 30 digits on one desktop pad."""
    found: dict[str, list[str]] = {"desktop at once": [], "phone at once": [], "30 digits": []}
    for device, options in (("desktop", DESKTOP), ("phone", PHONE)):
        for digit in ("7", "2", "5"):
            page = browser.new_page(**options)
            page.goto(url)
            page.wait_for_selector(PAD_CANVAS, state="visible", timeout=120_000)
            page.locator(PAD_CANVAS).scroll_into_view_if_needed()
            size = 450 * 0.7 if device == "desktop" else 900 * PHONE["viewport"]["width"] / 2 / page.locator(
                PAD_CANVAS).bounding_box()["width"]
            draw(page, on_pad(page, pen.place(pen.DIGITS[digit], 450 - 0.3 * size, 60, size)),
                 touch=device == "phone")
            found[f"{device} at once"].append(f"{digit}:{answer_to(page, digit)}")
            page.close()
    page = browser.new_page(**DESKTOP)
    page.goto(url)
    page.wait_for_selector(PAD_CANVAS, state="visible", timeout=120_000)
    for (left, top, height), digit in itertools.product(SPOTS, map(str, range(10))):
        draw(page, on_pad(page, pen.place(pen.DIGITS[digit], left, top, height)))
        found["30 digits"].append(f"{digit}:{answer_to(page, digit)}")
        page.click("#pad .pad-clear")
        page.wait_for_function("(s) => document.querySelector(s)?.innerText.startsWith('Draw')", arg=LABEL)
    page.close()
    return found


def answer_to(page: Page, digit: str) -> str:
    """The label once it reads `digit`, or whatever it reads after `ANSWER_TIMEOUT_S`."""
    try:
        page.wait_for_function("([s, d]) => document.querySelector(s)?.innerText.trim() === d",
                               arg=[LABEL, digit], timeout=ANSWER_TIMEOUT_S * 1000)
    except PlaywrightTimeout:
        pass
    return page.inner_text(LABEL).split("\n")[0].strip()


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def report(results: list[Stroke], at_once: dict[str, list[str]] | None, started: float) -> tuple[str, dict]:
    lines = [f"machine: {machine()}", f"run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{time.perf_counter() - started:.0f} s", "",
             f"{'pen-up to answer, ms':28} {'n':>6} {'p50':>6} {'p90':>6} {'right':>6} {'events':>7} "
             f"{'requests':>8} {'bytes sent':>11}"]
    summary: dict = {}
    for device in GOAL_MS:
        for server in ("app", "stock Sketchpad"):
            rows = [r for r in results if r.device == device and r.server == server]
            times = [r.answer_ms for r in rows if r.answer_ms is not None]
            s = summary.setdefault(device, {})[server] = {
                "strokes": len(rows), "answered": len(times), "p50_ms": pct(times, 50), "p90_ms": pct(times, 90),
                "right": sum(r.answer == r.digit for r in rows),
                "events": statistics.median(r.events for r in rows),
                "requests": statistics.median(r.requests for r in rows),
                "bytes_sent": statistics.median(r.bytes_sent for r in rows)}
            right = f"{s['right']}/{len(rows)}" if server == "app" else "-"
            lines.append(f"{device + ' ' + server:28} {s['answered']:>3}/{len(rows):<2} {fmt(s['p50_ms']):>6} "
                         f"{fmt(s['p90_ms']):>6} {right:>6} {s['events']:>7g} {s['requests']:>8g} "
                         f"{s['bytes_sent']:>11,.0f}")
    lines.append("(medians per stroke: events, requests and bytes the page sends from pen-down to the answer)")
    for device, goal in GOAL_MS.items():
        app, stock = summary[device]["app"]["p50_ms"], summary[device]["stock Sketchpad"]["p50_ms"]
        ratio = app / stock
        summary[device]["ratio_p50"] = ratio
        met = app <= goal and ratio <= GOAL_RATIO
        lines.append(f"{device}: app p50 {app:.0f} ms (goal <= {goal:.0f}), {ratio:.2f}x the stock Sketchpad's "
                     f"(goal <= {GOAL_RATIO}): {'met' if met else 'MISSED'}")
    if at_once:
        summary["at_once"] = at_once
        for name, answers in at_once.items():
            right = sum(a.split(":")[0] == a.split(":")[1] for a in answers)
            lines.append(f"{name}: {right} of {len(answers)} read right ({', '.join(answers)})")
    return "\n".join(lines) + "\n", summary


def serve_stock(port: int) -> None:
    """The stock Sketchpad app: `gr.Sketchpad` (800x800) and a Label, answered with a constant
    that takes turns among three so the label changes every stroke; /predict for the start probe."""
    import gradio as gr

    answers = itertools.cycle([{"7": 0.9, "1": 0.1}, {"1": 0.9, "7": 0.1}, {"2": 0.9, "7": 0.1}])
    with gr.Blocks() as demo:
        sketch = gr.Sketchpad(type="filepath")
        label = gr.Label(elem_id="prediction")
        sketch.change(lambda _: next(answers), sketch, label, api_visibility="private", trigger_mode="always_last")
        gr.Button(visible=False).click(lambda _: next(answers), gr.Image(visible=False, type="filepath"), label,
                                       api_name="predict")
    demo.queue().launch(server_name="127.0.0.1", server_port=port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strokes", type=int, default=12, help="measured strokes per server and device")
    parser.add_argument("--at-once", action="store_true", help="also fresh pages written at once, and 30 digits")
    parser.add_argument("--out", type=Path, help="also write the report here, and its JSON beside it")
    parser.add_argument("--serve-stock", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_stock:
        serve_stock(args.port)
        return
    started = time.perf_counter()
    commands = {"app": ["app.py"], "stock Sketchpad": ["-m", "benchmarks.browser_latency", "--serve-stock"]}
    with tempfile.TemporaryDirectory(prefix="browser-latency-") as tmp, ExitStack() as running:
        urls = {}
        for index, (name, command) in enumerate(commands.items()):
            folder = Path(tmp) / str(index)
            folder.mkdir()
            urls[name] = running.enter_context(serving(command, BROWSER_SKETCH, folder)).url
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                results = run_latency(browser, urls, args.strokes)
                at_once = run_at_once(browser, urls["app"]) if args.at_once else None
            finally:
                browser.close()
    text, summary = report(results, at_once, started)
    print("\n" + text)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(
            {"summary": summary, "strokes": [asdict(r) for r in results]}, indent=1))


if __name__ == "__main__":
    main()
