"""Many users of the app at once, through its public API: the load and the overload runs.

`python -m benchmarks.load` measures the app under load, and `tests/test_load.py` runs a few
seconds of the same against a real `python app.py`, so both drive it with what is here: users
made of `gradio_client.Client`s sending MNIST test digits as users send them (Sketchpad drawings
to /predict_sketch; PNG drawings and JPEG phone photos to /predict, from
`testkit.user_images`), each upload a file no request sent before (the same pixels with a
numbered PNG text chunk or JPEG comment: Gradio stores uploads by the hash of their bytes, so
resending identical files would hide any growth of its cache), and a flood of plain HTTP
clients that keeps the app's queue full.

- `run_load`: users sending requests back to back; requests, failures, throughput, latency, and
  whether the answers are right (the top class against the label, and one answer per image).
- `run_overload`: a flood of big phone photos through Gradio's HTTP API, while one
  `gradio_client` user keeps asking; how fast a refusal comes, that every accepted request is
  answered, and how soon after the flood a new request is answered.
"""

from __future__ import annotations

import itertools
import os
import ssl
import struct
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

from app import MAX_QUEUE, MODEL_ENV, default_concurrency
from mnist_model.data import load_mnist
from mnist_model.pool import default_workers
from testkit.app import REPO_ROOT, RunningApp, running_app
from testkit.user_images import encode, make_user_image

# for the app process only: no telemetry, no Hub; the shipped weights
APP_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}
CACHE = "cache"  # the launched app's GRADIO_TEMP_DIR, in the run's folder
SAMPLES = 64  # distinct input images, each sent many times (as a new file each time)
UPLOAD_KINDS = ("coloured_pen", "thick_marker", "white_on_black", "transparent_png")
PHOTO_SIZE = (3000, 4000)  # the overload's input: a 12-megapixel phone photo
RETRY_PAUSE_S = 0.05  # a refused flood client asks again this soon
RECOVERY_TIMEOUT_S = 60.0  # overload: the app must answer again within this after the flood
# gradio_client makes a TLS context, loading the CA bundle (~25 ms of CPU), for every HTTP call,
# even to http://; one shared context keeps many clients in one process from being the bottleneck.
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
            data, suffix = encode(image.convert("RGB"), "JPEG", quality=90), ".jpg"
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


@contextmanager
def launched(folder: Path, max_queue: int = MAX_QUEUE) -> Iterator[RunningApp]:
    """`python app.py` on a free port, its cache in `folder`/CACHE and its log in `folder`/app.log;
    stopped however the run ends."""
    env = {**os.environ, **APP_ENV, "PYTHONPATH": str(REPO_ROOT), "GRADIO_TEMP_DIR": str(folder / CACHE)}
    env.pop(MODEL_ENV, None)
    with running_app(["--max-queue", str(max_queue)], env, folder / "app.log") as app:
        yield app


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
# The runs


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
