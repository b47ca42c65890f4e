"""The app under many users at once: load, soak and overload, through its public API.

A demo that answers one user in 60 ms can still fail on the day it is shared: requests fail when
64 people draw at once, memory or the file cache grows until the server dies after a day, or a
burst leaves every visitor waiting on a spinner. Each run drives `python app.py`, started on a
free localhost port with its Gradio cache (GRADIO_TEMP_DIR) in a fresh temporary folder, or a
running app given by `--url` (load and overload only):

load      `--clients` users (64), each its own `gradio_client.Client` in its own thread, send
          requests back to back for `--seconds` (60): half Sketchpad drawings to /predict_sketch,
          half uploads to /predict (PNG drawings, JPEG phone photos), all made from MNIST test
          digits by `testkit/user_images.py`. Reports requests, failures (goal: none),
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
so resending identical files would hide any growth of its cache. The users, their inputs and
the load and overload runs are `testkit.load`'s, which `tests/test_load.py` runs for seconds.

    python -m benchmarks.load load                          # 64 clients x 60 s
    python -m benchmarks.load soak                          # 10 requests/s x 10 minutes
    python -m benchmarks.load overload                      # the app's queue of 64, ~30 s
    python -m benchmarks.load load --url http://127.0.0.1:7860/ --clients 8 --seconds 10
"""

from __future__ import annotations

import argparse
import os
import queue
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app import CACHE_MAX_AGE_S, CACHE_SWEEP_S, MAX_QUEUE
from mnist_model.data import default_data_dir
from testkit.app import RunningApp
from testkit.load import (
    CACHE,
    PHOTO_SIZE,
    Outcome,
    Overload,
    Sample,
    Summary,
    User,
    flood_size,
    launched,
    make_photo,
    make_samples,
    run_load,
    run_overload,
    summarise,
    users,
)
from testkit.processes import pss_kib

SAMPLE_EVERY_S = 5.0  # the soak's memory and cache sampling period
MEMORY_GOAL = 0.10  # soak: memory at the end within 10% of memory after the first minute


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


# --------------------------------------------------------------------------------------------
# The soak


def run_soak(
    app: RunningApp, cache: Path, samples: list[Sample], rate: float, seconds: float, folder: Path,
    pool_size: int = 16,
) -> tuple[Summary, list[Snapshot]]:
    """Requests due every 1/`rate` s for `seconds`, sent by whichever of `pool_size` users is free
    (latency counts from when a request was due), while the app and its cache folder `cache` are
    sampled every SAMPLE_EVERY_S."""
    pid = app.process.pid
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
def target(url: str | None, folder: Path, max_queue: int) -> Iterator[tuple[str, RunningApp | None]]:
    """The app to drive: the one at `url`, or one started here; (its URL, the app if started here)."""
    if url:
        yield (url if url.endswith("/") else f"{url}/"), None
    else:
        with launched(folder, max_queue) as app:
            yield app.url, app


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
        with target(args.url, folder, args.max_queue) as (url, app):
            print(f"app: {url}{'' if app is None else f' (started here, queue max {args.max_queue})'}")
            if args.mode == "load":
                seconds = args.seconds or 60.0
                print(f"load: {args.clients} clients for {seconds:g} s")
                table(summary_rows(run_load(url, samples, args.clients, seconds, folder)))
            elif args.mode == "soak":
                print(f"soak: {args.rate:g} requests/s for {args.minutes:g} min")
                assert app is not None  # the soak with --url is refused above
                summary, snapshots = run_soak(app, folder / CACHE, samples, args.rate, 60 * args.minutes, folder)
                report_soak(summary, snapshots, args.rate)
            else:
                flood = args.flood or flood_size(args.max_queue)
                seconds = args.seconds or 10.0
                result = run_overload(url, make_photo(args.data_dir, folder / "photo.jpg"), samples[0], flood,
                                      seconds, folder)
                report_overload(result, flood, args.max_queue, seconds)


if __name__ == "__main__":
    main()
