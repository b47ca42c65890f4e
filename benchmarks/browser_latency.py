"""How long a person waits for the answer after drawing: mouse-up to the label, in a real browser.

`benchmarks.app_latency` times the app through `gradio_client`; a person waits for more than that:
the Sketchpad exports the drawing, uploads it, starts the event and shows its result. This runs
`python app.py` (default workers) and its no-op twin (`benchmarks.app_latency`'s: the app's own
`build_demo`, same page, components and queue, with a classifier that returns a constant) side by
side, and has one headless Chromium (Debian's, driven by Playwright) draw the same single-stroke
digits (a 7, a 1, a 4, a 2) with mouse down/move/up on both pages, alternately stroke by stroke
(app first, then twin first), so that a drifting machine slows both alike. Between strokes it
empties the canvas with the Sketchpad's own trash button and waits until that change event has
finished and the page is idle (see `Pad.clear`).

Measured on the page's own clock (`performance.now()`): from the mouse-up (a capturing `pointerup`
listener) to the moment `#prediction [data-testid="label-output-value"]` shows a new text (a
MutationObserver), that is, the answer, replacing what emptying the canvas left there (the app's
blank message). The twin's answers take turns among three (`TakingTurns`), so its label changes
on every stroke too and the same signal serves both. Each
stroke's network trace splits that time into: before the event (mouse-up to the first
`queue/join` POST: the canvas export, Gradio's blob requests to `component_server` and its
`upload` requests in between), the event (that join to its `process_completed` SSE message, read
from a copy of the `queue/data` stream), and after (that message to the label: rendering, and a
second event if the page still relays the answer through one). The `queue/join` POSTs per stroke
are counted. Goal: the app's p50 within 10% of the twin's (ratio <= 1.10), i.e. preprocessing and
the model add little to what Gradio and the browser take anyway.

`--settings` instead compares Sketchpad settings that the app could choose (format "png" or
"webp", other canvas sizes, layers on) on twins whose `build_demo` gets them, the same
way, to tell which of them shorten Gradio's time before the event starts.

    python -m benchmarks.browser_latency [--strokes 20] [--json PATH]   # ~10 s a stroke, both servers
    python -m benchmarks.browser_latency --strokes 6     # a quick look
    python -m benchmarks.browser_latency --settings [--strokes 6]

Needs Debian's chromium and Playwright (`requirements-dev.txt`). All traffic stays on 127.0.0.1;
the servers are subprocesses, stopped however the run ends, with their Gradio file cache in a
temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from benchmarks.app_latency import BROWSER_SKETCH, ConstantClassifier, machine, serving
from mnist_model.predict import NumberReading

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 1000}
LABEL = '#prediction [data-testid="label-output-value"]'
RATIO_GOAL = 1.10  # app p50 / twin p50
ANSWER_TIMEOUT_S = 30.0
LOST_S = 10.0  # mouse-up to the event's request, at most; else the stroke drew nothing
SETTLE_S = 0.3  # after the last request of a stroke or a Clear, before the next step
ROOT = Path(__file__).resolve().parent.parent
NOTES: list[str] = []  # what the run had to work around, printed and written with the results

# One stroke each, in fractions of the drawing area (x right, y down).
DIGITS = {
    "7": [(0.3, 0.25), (0.7, 0.25), (0.45, 0.8)],
    "1": [(0.5, 0.2), (0.5, 0.8)],
    "4": [(0.6, 0.8), (0.6, 0.2), (0.28, 0.6), (0.75, 0.6)],
    "2": [(0.3, 0.3), (0.5, 0.2), (0.68, 0.32), (0.3, 0.78), (0.72, 0.78)],
}

# Sketchpad settings for --settings: the app's own first (format="png", layers=False, 900x450).
SETTINGS = {
    "png 900x450 (the app's)": {},
    "png 800x800": {"canvas_size": (800, 800)},
    "webp 800x800": {"format": "webp"},
    "png 560x560": {"canvas_size": (560, 560)},
    "png 400x400": {"canvas_size": (400, 400)},
    "png 800x800 layers=True": {"layers": True},
}

# Runs before the page's own scripts: timestamps of mouse-ups and label texts, and of each
# queue/join (its event id, from the response) and process_completed message (from a tee of the
# queue/data stream, which Gradio's client reads with fetch).
INSTRUMENT_JS = r"""
(() => {
  const B = window.__bench = {ups: [], labels: [], joins: [], done: [], starts: []};
  performance.setResourceTimingBufferSize(100000);
  window.addEventListener('pointerup', () => B.ups.push(performance.now()), true);
  let last = null;
  const look = () => {
    const el = document.querySelector('#prediction [data-testid="label-output-value"]');
    const text = el ? el.innerText.trim() : '';
    if (text !== last) { last = text; B.labels.push([performance.now(), text]); }
  };
  const watch = () => new MutationObserver(look).observe(document.documentElement,
    {childList: true, subtree: true, characterData: true});
  if (document.documentElement) watch(); else document.addEventListener('DOMContentLoaded', watch);
  const orig = window.fetch;
  window.fetch = async function (input, init) {
    const url = typeof input === 'string' ? input : (input && input.url) || String(input);
    const method = ((init && init.method) || (input && input.method) || 'GET').toUpperCase();
    const t0 = performance.now();
    let fn = null;
    if (url.includes('/queue/join')) {
      try { fn = JSON.parse(init.body).fn_index; } catch (e) { /* not JSON */ }
    }
    const resp = await orig.apply(this, arguments);
    if (url.includes('/queue/join')) {
      const t1 = performance.now();
      resp.clone().json().then((j) => B.joins.push({t: t0, answered: t1, id: j.event_id, fn}))
        .catch(() => B.joins.push({t: t0, answered: t1, id: null, fn}));
    } else if (url.includes('/queue/data') && method === 'GET' && resp.body) {
      const [mine, theirs] = resp.body.tee();
      (async () => {
        const reader = theirs.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const {value, done} = await reader.read();
          if (done) return;
          const now = performance.now();
          buffer += value;
          const lines = buffer.split('\n');
          buffer = lines.pop();
          for (const line of lines) {
            if (!line.startsWith('data:')) continue;
            try {
              const m = JSON.parse(line.slice(5));
              if (m.msg === 'process_completed') B.done.push({t: now, id: m.event_id, success: m.success});
              if (m.msg === 'process_starts') B.starts.push({t: now, id: m.event_id});
            } catch (e) { /* partial or non-JSON */ }
          }
        }
      })().catch(() => {});
      return new Response(mine, {status: resp.status, statusText: resp.statusText, headers: resp.headers});
    }
    return resp;
  };
})();
"""

# Gradio's requests since the page loaded: [path, start, end], page clock.
RESOURCES_JS = """() => performance.getEntriesByType('resource')
  .filter(e => e.name.includes('/gradio_api/'))
  .map(e => [e.name.split('/gradio_api/')[1].split('?')[0], e.startTime, e.responseEnd])"""

# Clicks the Brush unless a tool of that toolbar is already active (`highlight`).
BRUSH_JS = """() => {
  const b = [...document.querySelectorAll('button[aria-label="Brush"]')].find(b => b.offsetParent !== null);
  if (!b) return 'none';
  if (b.classList.contains('highlight')) return 'active';
  b.click();
  return 'clicked';
}"""

# All event requests answered and completed, and no status tracker showing on the label.
IDLE_JS = """() => {
  const B = window.__bench, done = new Set(B.done.map(d => d.id));
  const tracker = document.querySelector('#prediction [data-testid="status-tracker"]');
  const busy = tracker && !tracker.classList.contains('hide') && tracker.offsetParent !== null
    && /\\d\\.\\ds|processing|queue/i.test(tracker.innerText);
  return B.joins.length > 0 && B.joins.every(j => j.id === null || done.has(j.id)) && !busy;
}"""


# "idle": no status tracker shows; else the first one's text.
PAGE_STATE_JS = """() => {
  const busy = [...document.querySelectorAll('[data-testid="status-tracker"]')]
    .filter(t => !t.classList.contains('hide') && t.offsetParent !== null && t.innerText.trim());
  return busy.length ? 'tracker: ' + busy[0].innerText.trim().slice(0, 40) : 'idle';
}"""


@dataclass
class Stroke:
    """One stroke's times in ms after its mouse-up (None: not seen), and its requests."""

    server: str
    digit: str
    answer_text: str | None
    answer_ms: float | None  # the label shows the new text
    blob_ms: float | None = None  # first component_server (blob) request starts
    join_ms: float | None = None  # first queue/join POST starts: the event is sent
    completed_ms: float | None = None  # that event's process_completed message arrives
    uploads_done_ms: float | None = None  # last blob or upload request before the join ends
    joins: int = 0  # queue/join POSTs from the mouse-up to the next Clear
    joins_before_answer: int = 0
    blob_requests: int = 0
    upload_requests: int = 0
    file_fetches: int = 0  # GET file=... (the preview image) until the next Clear
    after_kinds: list[str] = field(default_factory=list)  # requests between completion and answer

    @property
    def before_event_ms(self) -> float | None:
        return self.join_ms

    @property
    def event_ms(self) -> float | None:
        return None if self.join_ms is None or self.completed_ms is None else self.completed_ms - self.join_ms

    @property
    def after_ms(self) -> float | None:
        return None if self.completed_ms is None or self.answer_ms is None else self.answer_ms - self.completed_ms


def kind(path: str) -> str:
    for prefix in ("component_server", "upload", "queue/join", "queue/data", "file=", "heartbeat"):
        if path.startswith(prefix):
            return prefix
    return path[:20]


class Pad:
    """One server's page in the shared browser."""

    def __init__(self, browser, name: str, url: str) -> None:
        self.name, self.url = name, url
        self.page = browser.new_page(viewport=VIEWPORT)
        self.page.add_init_script(INSTRUMENT_JS)
        self.page.goto(url)
        try:
            self.page.wait_for_selector(LABEL, timeout=120_000)
            self.page.wait_for_selector('button[aria-label="Brush"]', state="visible", timeout=120_000)
        except PlaywrightTimeout:
            shot = Path(tempfile.gettempdir()) / f"browser-latency-{name.replace(' ', '-')}.png"
            self.page.screenshot(path=shot)
            raise RuntimeError(f"{name}: the page at {url} shows no label or no Brush (screenshot: {shot})") from None
        self.page.wait_for_timeout(1000)  # let the page's own start-up (and any auto-brush script) run
        self.brush_clicks = 0

    def area(self) -> tuple[float, float, float]:
        """(left, top, side) of the white drawing area: a square in the middle of the canvas."""
        box = self.page.locator("canvas").first.bounding_box()
        side = min(box["width"], box["height"]) * 0.8
        return box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2, side

    def ensure_brush(self) -> None:
        if self.page.evaluate(BRUSH_JS) == "clicked":
            self.brush_clicks += 1
            self.page.wait_for_timeout(100)

    def bench(self, expression: str):
        return self.page.evaluate(f"() => window.__bench.{expression}")

    def wait_idle(self, since_joins: int, join_timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        """Until a queue/join newer than `since_joins` (or `join_timeout_s`) and all joins have
        completed, the label shows no progress, and no Gradio request has started for SETTLE_S."""
        try:
            self.page.wait_for_function(f"() => window.__bench.joins.length > {since_joins}",
                                        timeout=join_timeout_s * 1000)
        except PlaywrightTimeout:
            pass
        self.page.wait_for_function(IDLE_JS, timeout=ANSWER_TIMEOUT_S * 1000, polling=50)
        # (IDLE_JS needs one join: the page's first, the warm-up stroke's, comes before any wait)
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while time.monotonic() < deadline:
            quiet_ms = self.page.evaluate("""() => { const r = performance.getEntriesByType('resource')
                .filter(e => e.name.includes('/gradio_api/') && !e.name.includes('queue/data'));
                return performance.now() - Math.max(0, ...r.map(e => e.responseEnd || e.startTime)); }""")
            if quiet_ms >= SETTLE_S * 1000:
                break
            self.page.wait_for_timeout(SETTLE_S * 1000 - quiet_ms + 10)

    def clear(self) -> None:
        """Empty the canvas with the Sketchpad's own trash button and wait for its change event.

        The trash button empties the canvas alone, the same on both servers, with no event of the
        page's own besides the Sketchpad's change (the page's Clear button, which also resets the
        other components, is tested in tests/test_browser.py).
        """
        joins = self.bench("joins.length")
        self.page.locator('button[aria-label="Clear canvas"]').first.click()
        self.wait_idle(joins, join_timeout_s=5.0)  # no change event if the canvas was empty already
        state = self.page.evaluate(PAGE_STATE_JS)
        if state != "idle":
            raise RuntimeError(f"{self.name}: the page is not idle after emptying the canvas ({state})")

    def draw(self, digit: str) -> Stroke:
        self.page.bring_to_front()
        self.ensure_brush()
        left, top, side = self.area()
        points = [(left + x * side, top + y * side) for x, y in DIGITS[digit]]
        joins, labels, ups = self.bench("joins.length"), self.bench("labels.length"), self.bench("ups.length")
        before = self.page.inner_text(LABEL) if self.page.locator(LABEL).count() else ""
        mouse = self.page.mouse
        mouse.move(*points[0])
        mouse.down()
        for point in points[1:]:
            mouse.move(*point, steps=12)
        mouse.up()
        try:  # a stroke that sends no event within LOST_S drew nothing
            self.page.wait_for_function(f"() => window.__bench.joins.length > {joins}", timeout=LOST_S * 1000)
            self.page.wait_for_function(
                """([n, before]) => window.__bench.labels.slice(n).some(([t, text]) => text && text !== before)""",
                arg=[labels, before.strip()], timeout=ANSWER_TIMEOUT_S * 1000, polling=50)
            self.wait_idle(joins)
        except PlaywrightTimeout:  # a lost stroke is reported as such, not fatal
            pass
        data = self.page.evaluate("() => window.__bench")
        resources = self.page.evaluate(RESOURCES_JS)
        stroke = analyse(self.name, digit, before.strip(), data, resources, ups, labels)
        print(f"  {self.name}: {digit} -> {stroke.answer_text}, {fmt(stroke.answer_ms)} ms, "
              f"{stroke.joins} event(s)", flush=True)
        self.clear()
        return stroke


def analyse(server: str, digit: str, before: str, data: dict, resources: list, ups: int, labels: int) -> Stroke:
    if len(data["ups"]) <= ups:
        return Stroke(server, digit, None, None)
    up = data["ups"][-1]
    answer = next(((t, text) for t, text in data["labels"][labels:] if t >= up and text and text != before), None)
    answer_t = answer[0] if answer else None
    joins = [j for j in data["joins"] if j["t"] >= up]
    done = {d["id"]: d["t"] for d in data["done"]}
    stroke = Stroke(server, digit, answer[1] if answer else None, answer_t - up if answer else None)
    stroke.joins = len(joins)
    stroke.joins_before_answer = len([j for j in joins if answer_t is None or j["t"] < answer_t])
    mine = [(kind(path), start, end) for path, start, end in resources if start >= up]
    stroke.file_fetches = len([r for r in mine if r[0] == "file="])
    if joins:
        first = joins[0]
        stroke.join_ms = first["t"] - up
        if first["id"] in done:
            stroke.completed_ms = done[first["id"]] - up
    before_join = [r for r in mine if stroke.join_ms is None or r[1] < up + stroke.join_ms]
    blobs = [r for r in before_join if r[0] == "component_server"]
    uploads = [r for r in before_join if r[0] == "upload"]
    stroke.blob_requests, stroke.upload_requests = len(blobs), len(uploads)
    if blobs:
        stroke.blob_ms = min(r[1] for r in blobs) - up
    if blobs or uploads:
        stroke.uploads_done_ms = max(r[2] for r in blobs + uploads) - up
    if stroke.completed_ms is not None and answer_t is not None:
        stroke.after_kinds = sorted({r[0] for r in mine if up + stroke.completed_ms <= r[1] < answer_t})
    return stroke


def run_strokes(urls: dict[str, str], strokes: int) -> dict[str, list[Stroke]]:
    """`strokes` strokes on each server's page, taken in turn, the order reversed every round."""
    results: dict[str, list[Stroke]] = {name: [] for name in urls}
    digits = list(DIGITS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pads = {name: Pad(browser, name, url) for name, url in urls.items()}
            for pad in pads.values():  # one warm-up stroke each: first-use costs, not measured
                pad.draw(digits[0])
            for k in range(strokes):
                order = list(pads) if k % 2 == 0 else list(pads)[::-1]
                for name in order:
                    results[name].append(pads[name].draw(digits[k % len(digits)]))
            for name, pad in pads.items():
                if pad.brush_clicks:
                    NOTES.append(f"{name}: the benchmark clicked the Brush {pad.brush_clicks} times; the page had "
                                 f"no tool active")
        finally:
            browser.close()
    return results


# --------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else (
        values[0] if values else float("nan"))


def column(strokes: list[Stroke], name: str) -> list[float]:
    return [v for s in strokes if (v := getattr(s, name)) is not None]


def summary(strokes: list[Stroke]) -> dict:
    answers = column(strokes, "answer_ms")
    parts = {name: statistics.median(values) if (values := column(strokes, name)) else None
             for name in ("blob_ms", "uploads_done_ms", "before_event_ms", "event_ms", "after_ms")}
    return {
        "strokes": len(strokes), "answered": len(answers),
        "p50_ms": pct(answers, 50), "p90_ms": pct(answers, 90),
        "median_parts_ms": parts,
        "joins_per_stroke": statistics.median([s.joins for s in strokes]) if strokes else None,
        "joins_per_stroke_max": max((s.joins for s in strokes), default=None),
        "joins_before_answer": statistics.median([s.joins_before_answer for s in strokes]) if strokes else None,
        "blob_requests": statistics.median([s.blob_requests for s in strokes]) if strokes else None,
        "upload_requests": statistics.median([s.upload_requests for s in strokes]) if strokes else None,
        "file_fetches": statistics.median([s.file_fetches for s in strokes]) if strokes else None,
        "after_kinds": sorted({k for s in strokes for k in s.after_kinds}),
        "answers": sorted({s.answer_text for s in strokes if s.answer_text}),
    }


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_table(results: dict[str, list[Stroke]]) -> dict[str, dict]:
    summaries = {name: summary(strokes) for name, strokes in results.items()}
    print(f"{'mouse-up to answer, ms':28} {'n':>5} {'p50':>6} {'p90':>6} | {'blob req':>8} {'uploads':>8} "
          f"{'join':>6} {'event':>6} {'after':>6} | {'joins/stroke':>12} {'blob+upload reqs':>16} {'file GETs':>9}")
    for name, s in summaries.items():
        parts = s["median_parts_ms"]
        print(f"{name:28} {s['answered']:2}/{s['strokes']:<2} {fmt(s['p50_ms']):>6} {fmt(s['p90_ms']):>6} | "
              f"{fmt(parts['blob_ms']):>8} {fmt(parts['uploads_done_ms']):>8} {fmt(parts['before_event_ms']):>6} "
              f"{fmt(parts['event_ms']):>6} {fmt(parts['after_ms']):>6} | "
              f"{s['joins_per_stroke']:>6g} (max {s['joins_per_stroke_max']}) "
              f"{s['blob_requests']:>7g} + {s['upload_requests']:<6g} {s['file_fetches']:>9g}")
    print("(parts: medians; blob req / uploads: first blob request starts, last blob or upload request "
          "ends; join: the event is sent, all before it is the page's export and upload; event: join to its "
          "process_completed; after: that to the label showing the answer)")
    for name, s in summaries.items():
        if s["after_kinds"]:
            print(f"  {name}: requests between the event's completion and the answer: {', '.join(s['after_kinds'])}")
    return summaries


def ratio_report(results: dict[str, list[Stroke]], summaries: dict[str, dict]) -> dict:
    app, twin = summaries["app"], summaries["no-op twin"]
    ratio = app["p50_ms"] / twin["p50_ms"]
    ratio90 = app["p90_ms"] / twin["p90_ms"]
    # each pair of strokes taken back to back: how much one pair alone says
    pairs = sorted(a.answer_ms / t.answer_ms for a, t in zip(results["app"], results["no-op twin"])
                   if a.answer_ms and t.answer_ms)
    print(f"app / no-op twin, p50: {ratio:.2f}  goal <= {RATIO_GOAL:.2f}: {'met' if ratio <= RATIO_GOAL else 'MISSED'}; "
          f"p90: {ratio90:.2f}" + (f"; each pair of strokes: median {statistics.median(pairs):.2f}, "
                                   f"from {pairs[0]:.2f} to {pairs[-1]:.2f}" if pairs else ""))
    return {"ratio_p50": ratio, "ratio_p90": ratio90, "goal": RATIO_GOAL, "met": ratio <= RATIO_GOAL,
            "pair_ratios": pairs}


class TakingTurns(ConstantClassifier):
    """The no-op twin's classifier (no preprocessing, no model), whose answer takes turns among
    three: the app's answer to the benchmark's drawing and the same probabilities moved on by one
    and by two classes. The same work for every request, but each answer differs from the one
    before, so the label changes on every stroke, as the app's does (after the canvas is emptied
    the app shows its blank message, the twin its next answer)."""

    def __init__(self) -> None:
        super().__init__()
        (digit,) = self.number.digits
        classes = list(digit.confidences)
        self.answers = [NumberReading([replace(digit, confidences={classes[(i + shift) % len(classes)]: p
                                                                   for i, p in enumerate(digit.confidences.values())})])
                        for shift in range(3)]
        self.calls = itertools.count()

    def read_number(self, source: object) -> NumberReading:
        """The page's event: one digit, its answer taking turns."""
        return self.answers[next(self.calls) % len(self.answers)]


def serve_twin(port: int, overrides: dict) -> None:
    """`benchmarks.app_latency`'s no-op twin, answering with `TakingTurns`, and the Sketchpad's
    keyword arguments replaced by `overrides`."""
    import app
    from benchmarks import app_latency

    app_latency.ConstantClassifier = TakingTurns  # what serve_noop builds the demo with
    if overrides:
        # a function, not a subclass: Gradio reads a component's props from its __init__'s signature
        sketchpad, built = app.SketchFiles, []

        def with_overrides(**kwargs: object) -> object:
            built.append(kwargs)
            return sketchpad(**{**kwargs, **overrides})

        serve = app_latency.serve

        def checked_serve(demo: object, host: str, port: int) -> None:
            if not built:
                raise RuntimeError("build_demo no longer builds app.SketchFiles: update serve_twin")
            serve(demo, host, port)

        app.SketchFiles = with_overrides
        app_latency.serve = checked_serve
    app_latency.serve_noop(port)


def app_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    changed = git("diff", "--stat", "--", "app.py")
    return f"app.py at {git('log', '-1', '--format=%h', '--', 'app.py')}" + (
        f", working tree differs ({changed.splitlines()[-1].strip()})" if changed else ", working tree as committed")


TWIN = ["-m", "benchmarks.browser_latency", "--serve-twin"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strokes", type=int, help="strokes per server (default 20; 6 with --settings)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--settings", action="store_true", help="compare Sketchpad settings on no-op twins")
    parser.add_argument("--serve-twin", help=argparse.SUPPRESS)  # JSON Sketchpad overrides; needs --port
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_twin is not None:
        overrides = json.loads(args.serve_twin)
        if "canvas_size" in overrides:
            overrides["canvas_size"] = tuple(overrides["canvas_size"])
        serve_twin(args.port, overrides)
        return
    strokes = args.strokes or (6 if args.settings else 20)
    print(f"machine: {machine()}")
    print(app_commit())
    if args.settings:
        commands = {name: [*TWIN, json.dumps(overrides)] for name, overrides in SETTINGS.items()}
    else:
        commands = {"app": ["app.py"], "no-op twin": [*TWIN, "{}"]}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="browser-latency-") as tmp, ExitStack() as running:
        urls = {}
        for index, (name, command) in enumerate(commands.items()):
            folder = Path(tmp) / str(index)
            folder.mkdir()
            urls[name] = running.enter_context(serving(command, BROWSER_SKETCH, folder)).url
        results = run_strokes(urls, strokes)
    print(f"{strokes} strokes per server, {time.perf_counter() - started:.0f} s in all\n")
    summaries = print_table(results)
    out = {"machine": machine(), "app": app_commit(), "strokes_per_server": strokes, "summaries": summaries,
           "strokes": {name: [asdict(s) | {"event_ms": s.event_ms, "after_ms": s.after_ms} for s in rows]
                       for name, rows in results.items()}}
    if not args.settings:
        out["ratio"] = ratio_report(results, summaries)
    for note in NOTES:
        print(f"({note})")
    out["notes"] = NOTES
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
