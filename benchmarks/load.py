"""The app under many users at once: load, soak and overload, through its public API.

A demo that answers one user in 60 ms can still fail on the day it is shared: requests fail when
64 people draw at once, memory or the file cache grows until the server dies after a day, or a
burst leaves every visitor waiting on a spinner. Each run drives `python app.py`, started on a
free localhost port with its Gradio cache (GRADIO_TEMP_DIR) in a fresh temporary folder, or a
running app given by `--url` (load and overload only):

load      `--clients` users (64), each its own `gradio_client.Client` in its own thread, send
          requests back to back for `--seconds` (60): half Sketchpad drawings to /predict_sketch,
          half uploads to /predict (PNG drawings, JPEG phone photos), all made from MNIST test
          digits by `benchmarks/user_images.py`. Reports requests, failures (goal: none),
          throughput and p50/p95/p99 latency, and whether the answers are right: the top class
          against the digit's label, and one answer per image however often it is sent (requests
          mixed up under concurrency would break either).
soak      a steady `--rate` (10 requests/s) for `--minutes` (10), paced by the clock whatever the
          latency, while the app's memory (PSS of the server and its workers) and the files under
          its cache folder are sampled every few seconds. Goals: memory at the end within 10% of
          memory after the first minute (no leak from the queue, sessions or caches), and no cached file older
          than the app's sweep allows, so the file count levels off. Always starts its own app:
          it watches that process and its folder.
overload  `--flood` clients (2x what the queue and the workers hold) send a 12-megapixel photo,
          the slowest input there is, through Gradio's HTTP API for `--seconds`, so requests
          arrive faster than they are served and the queue stays full. Reports how fast a refused
          request is told so, that every accepted one is answered, what a `gradio_client` user
          gets meanwhile, and how soon after the flood a new request is answered (recovery,
          without a restart). `--max-queue` is the queue size the app is started with.

Every request uploads a file that no request sent before (the same pixels with a numbered PNG
text chunk or JPEG comment), as real users do: Gradio stores uploads by the hash of their bytes,
so resending identical files would hide any growth of its cache.

    python -m benchmarks.load load                          # 64 clients x 60 s
    python -m benchmarks.load soak                          # 10 requests/s x 10 minutes
    python -m benchmarks.load overload                      # the app's queue of 64, ~30 s
    python -m benchmarks.load load --url http://127.0.0.1:7860/ --clients 8 --seconds 10
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import queue
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

from app import CACHE_MAX_AGE_S, CACHE_SWEEP_S, MAX_QUEUE, MODEL_ENV, default_concurrency
from benchmarks.processes import pss_kib, stop
from benchmarks.user_images import make_user_image
from mnist_model.data import default_data_dir, load_mnist
from mnist_model.pool import default_workers

ROOT = Path(__file__).resolve().parent.parent
# for the app process only: no telemetry, no Hub; the shipped weights
APP_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}
START_TIMEOUT_S = 120.0
SAMPLES = 64  # distinct input images, each sent many times (as a new file each time)
UPLOAD_KINDS = ("coloured_pen", "thick_marker", "white_on_black", "transparent_png")
PHOTO_SIZE = (3000, 4000)  # the overload's input: a 12-megapixel phone photo
RETRY_PAUSE_S = 0.05  # a refused flood client asks again this soon
RECOVERY_TIMEOUT_S = 60.0  # overload: the app must answer again within this after the flood
SAMPLE_EVERY_S = 5.0  # the soak's memory and cache sampling period
MEMORY_GOAL = 0.10  # soak: memory at the end within 10% of memory after the first minute
# gradio_client makes a TLS context, loading the CA bundle (~25 ms of CPU), for every HTTP call,
# even to http://; one shared context keeps 64 clients in one process from being the bottleneck.
SHARED_TLS = ssl.create_default_context()


@dataclass(frozen=True)
class Sample:
    """One request's input: the endpoint, the file it uploads and the digit that file shows."""

    endpoint: str  # "/predict" or "/predict_sketch"
    suffix: str  # ".png" or ".jpg"
    data: bytes
    label: str


@dataclass(frozen=True)
class Outcome:
    """What one request got: the top class, or the error it raised."""

    sample: Sample
    latency: float  # seconds, from when it was due
    answer: str | None
    error: str | None = None


@dataclass(frozen=True)
class Summary:
    requests: int
    failures: Counter[str]  # "Type: message" -> count
    seconds: float
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    correct: float  # share of answers naming the digit's label
    inconsistent: int  # images that got more than one answer
    per_endpoint: Counter[str]


@dataclass(frozen=True)
class RunningApp:
    url: str
    pid: int | None  # None: an app given by --url
    cache: Path | None  # its GRADIO_TEMP_DIR


@dataclass(frozen=True)
class Snapshot:
    """The soak's view of the app at one moment."""

    seconds: float  # since the soak began
    requests: int  # answered or failed so far
    failures: int
    memory_kib: int  # PSS of the app and its worker processes
    files: int  # under the app's cache folder
    bytes: int
    folders: int
    oldest_s: float  # age of the oldest file a request left there (0 when there is none)


@dataclass(frozen=True)
class Overload:
    refusals: list[tuple[float, str]]  # flood requests refused: seconds to the refusal, its message
    accepted: list[tuple[float, str | None]]  # the others: seconds to the answer, the error if any
    user: list[tuple[float, str]]  # a gradio_client user during the flood: seconds, what it got
    recovery_s: float  # from the end of the flood to a new request's answer
    before_ms: float  # p50 latency of a request before the flood...
    after_ms: float  # ...and after the recovery


# --------------------------------------------------------------------------------------------
# Inputs


def make_samples(data_dir: Path, count: int = SAMPLES) -> list[Sample]:
    """`count` MNIST test digits as users send them: half Sketchpad drawings (the 800x800 RGBA PNG
    composite the browser uploads), a quarter phone photos (JPEG), a quarter PNG uploads."""
    images, labels = load_mnist(data_dir, train=False)
    rng = np.random.default_rng(0)
    samples = []
    for index in range(count):
        if index % 2 == 0:
            endpoint, kind = "/predict_sketch", "sketch_composite"
        else:
            endpoint, kind = "/predict", "photo" if index % 4 == 1 else UPLOAD_KINDS[index // 4 % len(UPLOAD_KINDS)]
        image = cast(Image.Image, make_user_image(images[index].numpy(), kind, rng))  # a dict only for sketch_layer
        if kind == "photo":
            data, suffix = encode(image.convert("RGB"), "JPEG"), ".jpg"
        else:
            data, suffix = encode(image.convert("RGBA") if kind == "sketch_composite" else image, "PNG"), ".png"
        samples.append(Sample(endpoint, suffix, data, str(int(labels[index]))))
    return samples


def make_photo(data_dir: Path, path: Path) -> Path:
    """A PHOTO_SIZE phone photo of a digit: the input that costs the server the most."""
    digit = load_mnist(data_dir, train=False)[0][0].numpy()
    photo = cast(Image.Image, make_user_image(digit, "photo", np.random.default_rng(0))).convert("RGB")
    photo.resize(PHOTO_SIZE, Image.Resampling.BICUBIC).save(path, quality=90)
    return path


def encode(image: Image.Image, format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **({"quality": 90} if format == "JPEG" else {}))
    return buffer.getvalue()


def unique(sample: Sample, serial: int) -> bytes:
    """The sample's file with a numbered note in its metadata: new bytes, the same pixels.

    PNG: a tEXt chunk right after IHDR (8-byte signature + 25-byte IHDR chunk); JPEG: a COM
    segment right after the SOI marker.
    """
    note = f"request {serial}".encode()
    if sample.suffix == ".png":
        chunk = b"tEXt" + b"Comment\0" + note
        packed = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk))
        return sample.data[:33] + packed + sample.data[33:]
    return sample.data[:2] + b"\xff\xfe" + struct.pack(">H", len(note) + 2) + note + sample.data[2:]


# --------------------------------------------------------------------------------------------
# The app and its users


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def launched(folder: Path, max_queue: int = MAX_QUEUE) -> Iterator[RunningApp]:
    """`python app.py` on a free port, its cache in `folder`/cache; stopped however the run ends."""
    port, cache = free_port(), folder / "cache"
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, **APP_ENV, "PYTHONPATH": str(ROOT), "GRADIO_TEMP_DIR": str(cache)}
    env.pop(MODEL_ENV, None)
    log = folder / "app.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "app.py", "--port", str(port), "--max-queue", str(max_queue)],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )
        try:
            wait_until_serving(url, process, log)
            yield RunningApp(url, process.pid, cache)
        finally:
            stop(process)


def wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}config", timeout=5).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"app.py did not serve {url} within {START_TIMEOUT_S:.0f} s")


class User:
    """One simulated user: a `gradio_client.Client` and a scratch file for what it uploads."""

    def __init__(self, url: str, folder: Path) -> None:
        self.client = Client(url, verbose=False, analytics_enabled=False, download_files=False,
                             ssl_verify=SHARED_TLS)  # type: ignore[arg-type]  # handed to httpx's verify=
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, sample: Sample, serial: int) -> str:
        """Classify the sample as upload number `serial`; the top class."""
        path = self.folder / f"digit{sample.suffix}"
        path.write_bytes(unique(sample, serial))
        file = handle_file(str(path))
        value = {"background": None, "layers": [], "composite": file} if sample.endpoint == "/predict_sketch" else file
        label, _preview = self.client.predict(value, api_name=sample.endpoint)
        return label["label"]

    def attempt(self, sample: Sample, serial: int, due: float) -> Outcome:
        """`send`, timed from `due`, with any failure recorded rather than raised."""
        try:
            answer = self.send(sample, serial)
            return Outcome(sample, time.perf_counter() - due, answer)
        except Exception as error:  # noqa: BLE001 - every failure is counted and shown
            return Outcome(sample, time.perf_counter() - due, None, f"{type(error).__name__}: {str(error)[:120]}")

    def close(self) -> None:
        self.client.close()


@contextmanager
def users(url: str, count: int, folder: Path) -> Iterator[list[User]]:
    """`count` connected users (connected in parallel: each Client fetches the app's config)."""
    with ThreadPoolExecutor(min(count, 16)) as pool:
        connected = list(pool.map(lambda n: User(url, folder / f"user{n}"), range(count)))
    try:
        yield connected
    finally:
        for user in connected:
            user.close()


def summarise(outcomes: list[Outcome], seconds: float) -> Summary:
    answered = [outcome for outcome in outcomes if outcome.error is None]
    latencies_ms = np.asarray([outcome.latency for outcome in answered]) * 1000
    p50, p95, p99 = np.percentile(latencies_ms, [50, 95, 99]) if len(answered) else (float("nan"),) * 3
    answers: dict[Sample, set[str | None]] = {}
    for outcome in answered:
        answers.setdefault(outcome.sample, set()).add(outcome.answer)
    return Summary(
        requests=len(outcomes),
        failures=Counter(outcome.error for outcome in outcomes if outcome.error is not None),
        seconds=seconds,
        per_second=len(answered) / seconds,
        p50_ms=float(p50), p95_ms=float(p95), p99_ms=float(p99),
        correct=sum(outcome.answer == outcome.sample.label for outcome in answered) / max(1, len(answered)),
        inconsistent=sum(len(got) > 1 for got in answers.values()),
        per_endpoint=Counter(outcome.sample.endpoint for outcome in outcomes),
    )


# --------------------------------------------------------------------------------------------
# The three runs


def run_load(url: str, samples: list[Sample], clients: int, seconds: float, folder: Path) -> Summary:
    """`clients` users sending requests back to back for `seconds`, each starting at its own sample."""
    serials = itertools.count()  # next() on it is atomic under the GIL

    def loop(user: User, first: int, deadline: float) -> list[Outcome]:
        outcomes: list[Outcome] = []
        while (started := time.perf_counter()) < deadline:
            sample = samples[(first + len(outcomes)) % len(samples)]
            outcomes.append(user.attempt(sample, next(serials), started))
        return outcomes

    with users(url, clients, folder) as connected, ThreadPoolExecutor(clients) as pool:
        started = time.perf_counter()
        deadline = started + seconds
        runs = list(pool.map(loop, connected, range(clients), [deadline] * clients))
        elapsed = time.perf_counter() - started
    return summarise([outcome for run in runs for outcome in run], elapsed)


def run_soak(
    app: RunningApp, samples: list[Sample], rate: float, seconds: float, folder: Path, pool_size: int = 16,
) -> tuple[Summary, list[Snapshot]]:
    """Requests due every 1/`rate` s for `seconds`, sent by whichever of `pool_size` users is free
    (latency counts from when a request was due), while the app is sampled every SAMPLE_EVERY_S."""
    pid, cache = app.pid, app.cache
    if pid is None or cache is None:
        raise ValueError("the soak watches an app it started: its process and its cache folder")
    outcomes: list[Outcome] = []  # list.append is atomic under the GIL
    snapshots: list[Snapshot] = []
    own = cached_files(cache)  # the app's sample images, cached at start-up and kept on purpose
    finished = threading.Event()

    with users(app.url, pool_size, folder) as connected, ThreadPoolExecutor(pool_size) as pool:
        idle: queue.Queue[User] = queue.Queue()
        for user in connected:
            idle.put(user)

        def send(serial: int, due: float) -> None:
            user = idle.get()
            try:
                outcomes.append(user.attempt(samples[serial % len(samples)], serial, due))
            finally:
                idle.put(user)

        started = time.perf_counter()

        def sample_app() -> None:
            while True:
                snapshots.append(snapshot(pid, cache, own, time.perf_counter() - started, outcomes))
                if finished.wait(SAMPLE_EVERY_S):
                    return

        sampler = threading.Thread(target=sample_app)
        sampler.start()
        for serial in range(round(rate * seconds)):
            due = started + serial / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            pool.submit(send, serial, due)
    elapsed = time.perf_counter() - started
    finished.set()
    sampler.join()
    snapshots.append(snapshot(pid, cache, own, elapsed, outcomes))
    return summarise(outcomes, elapsed), snapshots


def snapshot(pid: int, cache: Path, own: set[str], seconds: float, outcomes: list[Outcome]) -> Snapshot:
    """The app's memory and its cache folder now: files `own` count, but not towards the oldest."""
    files = size = 0
    oldest = now = time.time()
    for path in cached_files(cache):
        try:
            stat = os.stat(path)
        except FileNotFoundError:  # deleted by the app's sweep meanwhile
            continue
        files, size = files + 1, size + stat.st_size
        if path not in own:
            oldest = min(oldest, stat.st_ctime)
    folders = sum(len(dirnames) for _, dirnames, _ in os.walk(cache))
    done = list(outcomes)
    return Snapshot(seconds, len(done), sum(o.error is not None for o in done), pss_kib(pid),
                    files, size, folders, now - oldest)


def cached_files(cache: Path) -> set[str]:
    return {os.path.join(parent, name) for parent, _, names in os.walk(cache) for name in names}


def run_overload(
    url: str, photo: Path, sample: Sample, flood: int, seconds: float, folder: Path,
) -> Overload:
    """`flood` clients send `photo` to /predict through Gradio's HTTP API for `seconds`, a refused
    one asking again after RETRY_PAUSE_S; meanwhile one `gradio_client` user keeps sending `sample`.

    The flood uploads the photo once and then only joins the queue (POST gradio_api/call/predict,
    then reads the answer from gradio_api/call/predict/EVENT_ID), so its requests arrive far
    faster than the workers can decode 12-megapixel photos: the queue is full within a second.
    """
    refusals: list[tuple[float, str]] = []
    accepted: list[tuple[float, str | None]] = []
    stop = threading.Event()
    limits = httpx.Limits(max_connections=flood + 8, max_keepalive_connections=flood + 8)
    with httpx.Client(base_url=f"{url}gradio_api/", timeout=120, limits=limits) as http, \
            users(url, 1, folder) as (user,):
        with photo.open("rb") as file:
            uploaded = http.post("upload", files={"files": (photo.name, file)}).raise_for_status().json()[0]
        payload = {"data": [{"path": uploaded, "meta": {"_type": "gradio.FileData"}}]}

        def flood_client() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    response = http.post("call/predict", json=payload)
                    if response.status_code == 503:
                        refusals.append((time.perf_counter() - started, response.json().get("detail", "")))
                        stop.wait(RETRY_PAUSE_S)
                        continue
                    response.raise_for_status()
                    error = call_result(http, "predict", response.json()["event_id"])
                except httpx.HTTPError as failure:
                    error = f"{type(failure).__name__}: {str(failure)[:120]}"
                accepted.append((time.perf_counter() - started, error))

        serials = itertools.count()
        before = [user.attempt(sample, next(serials), time.perf_counter()) for _ in range(3)]
        threads = [threading.Thread(target=flood_client) for _ in range(flood)]
        for thread in threads:
            thread.start()
        started = time.perf_counter()
        during: list[tuple[float, str]] = []
        time.sleep(min(1.0, seconds / 3))  # the queue fills
        while time.perf_counter() - started < seconds:
            outcome = user.attempt(sample, next(serials), time.perf_counter())
            during.append((outcome.latency, outcome.error or f"answered {outcome.answer}"))
        stop.set()
        stopped = time.perf_counter()
        while user.attempt(sample, next(serials), stopped).error is not None:  # refused while the queue drains
            if time.perf_counter() - stopped > RECOVERY_TIMEOUT_S:
                raise RuntimeError(f"the app still refused requests {RECOVERY_TIMEOUT_S:.0f} s after the flood")
            time.sleep(RETRY_PAUSE_S)
        recovery_s = time.perf_counter() - stopped
        for thread in threads:
            thread.join()
        after = [user.attempt(sample, next(serials), time.perf_counter()) for _ in range(3)]
    return Overload(refusals, accepted, during, recovery_s, median_ms(before), median_ms(after))


def flood_size(max_queue: int) -> int:
    """Clients enough to keep a queue of `max_queue` full: twice what it and the event in progress
    (as many requests as app.py's default lets it handle at once) hold."""
    return 2 * (max_queue + default_concurrency(default_workers()))


def call_result(http: httpx.Client, api_name: str, event_id: str) -> str | None:
    """Wait for an event of Gradio's HTTP API to finish: None if it answered, else the error."""
    event = None
    with http.stream("GET", f"call/{api_name}/{event_id}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event in ("complete", "error"):
                return None if event == "complete" else f"error: {line.removeprefix('data: ')[:120]}"
    return "the answer stream ended without a result"


def median_ms(outcomes: list[Outcome]) -> float:
    if any(outcome.error for outcome in outcomes):
        raise RuntimeError(f"a request on a quiet app failed: {[o.error for o in outcomes if o.error]}")
    return 1000 * float(np.median([outcome.latency for outcome in outcomes]))


# --------------------------------------------------------------------------------------------
# Reports


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), "unknown CPU")
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{model}, {os.cpu_count()} cores; load average at the start {load}"


def table(rows: list[tuple[str, object]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:{width}}  {value}")


def summary_rows(summary: Summary) -> list[tuple[str, object]]:
    endpoints = ", ".join(f"{name} {count}" for name, count in sorted(summary.per_endpoint.items()))
    failed = sum(summary.failures.values())
    return [
        ("requests", f"{summary.requests} ({endpoints})"),
        ("failed", f"{failed}  goal 0: {'met' if failed == 0 else 'MISSED'}"),
        ("throughput", f"{summary.per_second:.1f} answers/s over {summary.seconds:.0f} s"),
        ("latency p50 / p95 / p99", f"{summary.p50_ms:.0f} / {summary.p95_ms:.0f} / {summary.p99_ms:.0f} ms"),
        ("top class = label", f"{summary.correct:.1%}"),
        ("images with >1 answer", summary.inconsistent),
        *((f"failure x{count}", message) for message, count in summary.failures.most_common(5)),
    ]


def report_soak(summary: Summary, snapshots: list[Snapshot], rate: float) -> None:
    print(f"{'time':>6} {'requests':>9} {'failed':>7} {'PSS MiB':>8} {'files':>7} {'MiB':>6} {'folders':>8} {'oldest s':>9}")
    minutes = (at(snapshots, 60 * minute) for minute in range(1, int(snapshots[-1].seconds // 60) + 1))
    for snap in dict.fromkeys([snapshots[0], *minutes, snapshots[-1]]):  # in order, once each
        print(f"{snap.seconds / 60:5.1f}m {snap.requests:9} {snap.failures:7} {snap.memory_kib / 1024:8.0f} "
              f"{snap.files:7} {snap.bytes / 2**20:6.1f} {snap.folders:8} {snap.oldest_s:9.0f}")
    first_minute, end = at(snapshots, 60), snapshots[-1]
    growth = end.memory_kib / first_minute.memory_kib - 1
    allowed_age = CACHE_MAX_AGE_S + CACHE_SWEEP_S + SAMPLE_EVERY_S  # the app's sweep, plus sampling
    oldest = max(snap.oldest_s for snap in snapshots)  # of the files requests left
    peak = max(snapshots, key=lambda snap: snap.files)
    cleaned = ("run too short to tell" if end.seconds <= allowed_age
               else "met" if oldest <= allowed_age else "MISSED")
    print()
    table([
        *summary_rows(summary),
        ("rate asked", f"{rate:g} requests/s"),
        ("memory after 1 min / at end", (f"{first_minute.memory_kib / 1024:.0f} / {end.memory_kib / 1024:.0f} MiB ({growth:+.1%}); "
                                     f"goal within {MEMORY_GOAL:.0%}: {'met' if abs(growth) <= MEMORY_GOAL else 'MISSED'}")),
        ("cached files peak / at end", f"{peak.files} at {peak.seconds / 60:.1f} min / {end.files} ({end.bytes / 2**20:.1f} MiB)"),
        ("oldest file of a request", f"{oldest:.0f} s; goal <= {allowed_age:.0f} s: {cleaned}"),
    ])


def at(snapshots: list[Snapshot], seconds: float) -> Snapshot:
    return min(snapshots, key=lambda snap: abs(snap.seconds - seconds))


def report_overload(result: Overload, flood: int, max_queue: int, seconds: float) -> None:
    refusal_ms = np.asarray([elapsed for elapsed, _ in result.refusals]) * 1000
    answered = [elapsed for elapsed, error in result.accepted if error is None]
    errors = Counter(error for _, error in result.accepted if error is not None)
    user = Counter(what for _, what in result.user)
    user_s = {what: max(elapsed for elapsed, got in result.user if got == what) for what in user}
    table([
        ("flood", (f"{flood} clients x {seconds:.0f} s, {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG to /predict; "
                  f"queue max {max_queue}")),
        ("flood requests", (f"{len(result.accepted) + len(result.refusals)} sent, {len(result.accepted)} accepted, "
                            f"{len(result.refusals)} refused")),
        ("refused in p50 / p99 / max", (f"{np.percentile(refusal_ms, 50):.0f} / {np.percentile(refusal_ms, 99):.0f} / "
                                        f"{refusal_ms.max():.0f} ms" if len(refusal_ms) else "none refused")),
        ("refusal message", Counter(message for _, message in result.refusals).most_common(1)[0][0]
         if result.refusals else "-"),
        ("accepted answered", f"{len(answered)} of {len(result.accepted)}; p50 {np.median(answered) if answered else 0:.1f} s"),
        *((f"accepted failed x{count}", error) for error, count in errors.most_common(3)),
        *((f"gradio_client user x{count}", f"{what} (slowest {user_s[what]:.2f} s)") for what, count in user.most_common()),
        ("recovery", f"a new request answered {result.recovery_s:.1f} s after the flood stopped"),
        ("p50 before / after", f"{result.before_ms:.0f} / {result.after_ms:.0f} ms"),
    ])


# --------------------------------------------------------------------------------------------


@contextmanager
def target(url: str | None, folder: Path, max_queue: int) -> Iterator[RunningApp]:
    if url:
        yield RunningApp(url if url.endswith("/") else f"{url}/", None, None)
    else:
        with launched(folder, max_queue) as app:
            yield app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("load", "soak", "overload"))
    parser.add_argument("--url", help="a running app (load, overload); default: start app.py on a free port")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--clients", type=int, default=64, help="load: concurrent users (default 64)")
    parser.add_argument("--seconds", type=float, help="load: duration (default 60); overload: flood duration (default 10)")
    parser.add_argument("--rate", type=float, default=10.0, help="soak: requests per second (default 10)")
    parser.add_argument("--minutes", type=float, default=10.0, help="soak: duration (default 10)")
    parser.add_argument("--max-queue", type=int, default=MAX_QUEUE, help=f"the app's queue size (default {MAX_QUEUE})")
    parser.add_argument("--flood", type=int, help="overload: clients (default 2x (queue + requests an event handles at once))")
    args = parser.parse_args()
    if args.mode == "soak" and args.url:
        parser.error("the soak starts its own app: it reads that process's memory and cache folder")

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="load-") as tmp:
        folder = Path(tmp)
        samples = make_samples(args.data_dir)
        with target(args.url, folder, args.max_queue) as app:
            print(f"app: {app.url}{'' if args.url else f' (started here, queue max {args.max_queue})'}")
            if args.mode == "load":
                seconds = args.seconds or 60.0
                print(f"load: {args.clients} clients for {seconds:g} s")
                table(summary_rows(run_load(app.url, samples, args.clients, seconds, folder)))
            elif args.mode == "soak":
                print(f"soak: {args.rate:g} requests/s for {args.minutes:g} min")
                summary, snapshots = run_soak(app, samples, args.rate, 60 * args.minutes, folder)
                report_soak(summary, snapshots, args.rate)
            else:
                flood = args.flood or flood_size(args.max_queue)
                seconds = args.seconds or 10.0
                result = run_overload(app.url, make_photo(args.data_dir, folder / "photo.jpg"), samples[0], flood,
                                      seconds, folder)
                report_overload(result, flood, args.max_queue, seconds)


if __name__ == "__main__":
    main()
