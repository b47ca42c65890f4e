"""How fast the app answers: in-process, through gradio_client, under load, at start-up.

A digit demo feels broken when a stroke takes a second to classify. This measures, in one run
and on one machine so the numbers compare: the preprocessing plus forward pass in this process
(`Classifier.predict`, the app's exact path, one torch thread as in the app) for a 28x28 MNIST
PNG, the strokes of a 7 as the page's pad sends them (drawn, then read), an 800x800 Sketchpad
drawing and a 3000x4000 phone photo; the latency of `/predict`, `/predict_strokes` and
`/predict_sketch` through `gradio_client` against `python app.py`; the throughput of 16
concurrent clients sending drawings (`--load`: the pad's strokes to `/predict_strokes`, or a
Sketchpad's PNG to `/predict_sketch`), against the app and against a no-op
twin (the app's own `build_demo`, same components and queue, whose classifier returns a
constant: the app's own answer to the drawing, worked out once), whose ratio is what
preprocessing and the model cost on top of Gradio's own work (the two servers run side by side
and take 12 turns of 5 s each alternately: on a shared VM one pair of turns alone gave anything
from 65% to 99%, so the goal is judged on all the turns' totals and the pairs' spread is shown);
the time from launching `app.py` to its first answer; and the memory of the app's processes
(server and workers) after the load.

The Sketchpad drawing is one a real Chromium sent to a Gradio Sketchpad (`benchmarks/browser_sketch.py`
recorded it): a browser's PNG, not one of Pillow's, since the encoder decides how long decoding
takes. The strokes are `testkit.pen`'s 7 with a point every 8 pad units, as a moving pointer
reports them. The twin draws the strokes too (the event function's work, before classifying).

    python -m benchmarks.app_latency [--data-dir DIR]   # ~4 minutes
    python -m benchmarks.app_latency --load sketch      # the load as Sketchpad PNGs
    python -m benchmarks.app_latency --seconds 10 --rounds 2   # quick look: shorter load, fewer runs

All traffic stays on 127.0.0.1; both servers are subprocesses, stopped however the run ends,
with their Gradio file cache in a temporary folder that is removed afterwards.
`python -m benchmarks.app_latency --serve-noop --port PORT` serves the no-op twin alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# no telemetry from Gradio, its client or the Hub: all traffic stays on this machine
LOCAL_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}
os.environ.update(LOCAL_ENV)

import gradio  # noqa: E402
import gradio_client  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from gradio_client import Client, handle_file  # noqa: E402
from PIL import Image  # noqa: E402

from app import build_demo, default_concurrency  # noqa: E402
from mnist_model import gradio_workarounds  # noqa: E402
from mnist_model.data import default_data_dir, load_mnist  # noqa: E402
from mnist_model.loader import load_model  # noqa: E402
from mnist_model.memory import limit_malloc_arenas  # noqa: E402
from mnist_model.pool import default_workers  # noqa: E402
from mnist_model.predict import Classifier, NumberReading, Prediction  # noqa: E402
from mnist_model.pad import PAD_HEIGHT, PAD_WIDTH  # noqa: E402
from mnist_model.serving import serve  # noqa: E402
from mnist_model.strokes import strokes_picture  # noqa: E402
from testkit import pen  # noqa: E402
from testkit.app import free_port  # noqa: E402
from testkit.processes import cpu_seconds, proc_status_kib, process_tree, pss_kib, stop  # noqa: E402
from testkit.user_images import make_user_image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BROWSER_SKETCH = ROOT / "benchmarks" / "inputs" / "sketch_chromium_800x800.png"  # a 7
DIGIT_INDEX = 0  # MNIST test digit used for every input (a 7)
PHOTO_SIZE = (3000, 4000)  # a 12-megapixel phone photo, portrait
CLIENTS = 16
SKETCH_GOAL_MS = 5.0  # in-process p50 for the 800x800 Sketchpad drawing
THROUGHPUT_GOAL = 0.8  # app requests/s as a share of the no-op's
START_TIMEOUT_S = 120.0
# gradio_client makes a new httpx client, and so a TLS context loading the CA bundle (~25 ms of
# CPU, encode/httpx#2298), for each HTTP call, even to http://: 80 ms of client CPU a request,
# which made 16 clients in this process the bottleneck. One shared context takes that away.
SHARED_TLS = ssl.create_default_context()


@dataclass(frozen=True)
class Inputs:
    mnist_png: Path  # 28x28, white on black
    sketch_png: Path  # 800x800 composite, as Chromium sent it (benchmarks/browser_sketch.py)
    sketch: dict  # a Sketchpad value holding its decoded RGBA pixels (the goal's "preprocessing + inference")
    photo_jpg: Path  # PHOTO_SIZE phone photo of paper
    strokes: str  # a 7 on the page's pad, the JSON it sends



@dataclass
class Load:
    """What CLIENTS concurrent clients got from one server in a fixed time."""

    seconds: float
    latencies: list[float]
    server_cpu_s: float  # CPU time the server used meanwhile
    client_cpu_s: float  # ... and this process, the CLIENTS load generators
    failures: Counter = field(default_factory=Counter)  # "Type: message" -> count

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def cpu_ms_per_request(self, cpu_s: float) -> float:
        return 1000 * cpu_s / max(1, len(self.latencies) + sum(self.failures.values()))

    @classmethod
    def merged(cls, parts: list[Load]) -> Load:
        return cls(
            seconds=sum(part.seconds for part in parts),
            latencies=[latency for part in parts for latency in part.latencies],
            server_cpu_s=sum(part.server_cpu_s for part in parts),
            client_cpu_s=sum(part.client_cpu_s for part in parts),
            failures=sum((part.failures for part in parts), Counter()),
        )


@dataclass(frozen=True)
class Memory:
    """A server's memory after the load."""

    processes: int  # the server and its descendants (fork server, workers)
    pss_kib: int  # proportional set size of them all: shared pages counted once
    peak_rss_kib: int  # the server process's own peak resident set (VmHWM)


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    startup_s: float  # launch to the first answered /predict


# --------------------------------------------------------------------------------------------
# Inputs and helpers


def make_inputs(data_dir: Path, folder: Path) -> Inputs:
    digit = load_mnist(data_dir, train=False)[0][DIGIT_INDEX].numpy()
    rng = np.random.default_rng(0)
    mnist_png = folder / "mnist_28x28.png"
    Image.fromarray(digit).save(mnist_png)
    photo_jpg = folder / "photo_3000x4000.jpg"
    photo = make_user_image(digit, "photo", rng).convert("RGB")
    photo.resize(PHOTO_SIZE, Image.Resampling.BICUBIC).save(photo_jpg, quality=90)
    with Image.open(BROWSER_SKETCH) as composite:
        sketch = {"background": None, "layers": [], "composite": np.asarray(composite)}
    return Inputs(mnist_png, BROWSER_SKETCH, sketch, photo_jpg, pad_strokes())


def pad_strokes() -> str:
    """A 7 two thirds of the pad's height, as the pad sends it: whole pad units, a point every 8."""
    placed = pen.place(pen.DIGITS["7"], PAD_WIDTH / 2 - 0.3 * 300, (PAD_HEIGHT - 300) / 2, 300)
    strokes = [[[round(x), round(y)] for x, y in pen.dense(stroke, 8)] for stroke in placed]
    return json.dumps({"width": PAD_WIDTH, "height": PAD_HEIGHT, "strokes": strokes})


def sketch_value(inputs: Inputs) -> dict:
    """The drawing as `gradio_client` sends a Sketchpad value."""
    return {"background": None, "layers": [], "composite": handle_file(inputs.sketch_png)}


# what each kind of --load sends: the endpoint, and its value made from the inputs
LOADS: dict[str, tuple[str, Callable[[Inputs], object]]] = {
    "strokes": ("/predict_strokes", lambda inputs: inputs.strokes),
    "sketch": ("/predict_sketch", sketch_value),
}


def percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.asarray(seconds) * 1000, [50, 99])
    return float(p50), float(p99)


def timed(call: Callable[[], object], runs: int) -> list[float]:
    call()  # warm-up: first-call allocations, lazy imports
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    return (f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}, torch {torch.__version__}, "
            f"gradio {gradio.__version__}, gradio_client {gradio_client.__version__}")


def connect(url: str, stock: bool = False) -> Client:
    """A Client sharing SHARED_TLS; `stock`: with gradio_client's default, a context per call."""
    return Client(url, verbose=False, analytics_enabled=False, download_files=False,
                  ssl_verify=True if stock else SHARED_TLS)  # type: ignore[arg-type]  # httpx's verify=


# --------------------------------------------------------------------------------------------
# The measurements


def in_process(inputs: Inputs, runs: int) -> dict[str, list[float]]:
    """`Classifier.predict` as the app calls it, on one torch thread."""
    classifier = Classifier(load_model().model)
    cases: dict[str, tuple[Callable[[], Prediction], int]] = {
        "28x28 MNIST PNG (file)": (lambda: classifier.predict(inputs.mnist_png), runs),
        "pad strokes of a 7 (drawn, then read)": (lambda: classifier.predict(strokes_picture(inputs.strokes)), runs),
        "800x800 sketch (decoded RGBA pixels)": (lambda: classifier.predict(inputs.sketch), runs),
        "800x800 sketch (PNG file, as the app reads it)": (lambda: classifier.predict(inputs.sketch_png), runs),
        "3000x4000 photo (JPEG file)": (lambda: classifier.predict(inputs.photo_jpg), max(5, runs // 10)),
    }
    for name, (predict, _) in cases.items():
        if predict().confidences is None:
            raise RuntimeError(f"the {name} was read as blank; the benchmark input is broken")
    return {name: timed(predict, n) for name, (predict, n) in cases.items()}


@contextmanager
def serving(command: list[str], probe: Path, folder: Path) -> Iterator[Server]:
    """`command --port PORT` in a subprocess; yields once /predict has answered; always stops it.

    Its log and its Gradio cache (uploads, outputs) go to `folder`.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = folder / "server.log"
    env = {**os.environ, **LOCAL_ENV, "PYTHONPATH": str(ROOT), "GRADIO_TEMP_DIR": str(folder / "cache")}
    env.pop("MNIST_MODEL", None)  # the shipped weights: no Hub download
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, *command, "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=output, stderr=subprocess.STDOUT)
        try:
            first_answer(url, probe, process, log)
            yield Server(url, process.pid, time.perf_counter() - started)
        finally:
            stop(process)


def first_answer(url: str, probe: Path, process: subprocess.Popen, log: Path) -> None:
    """Wait until `url` answers a /predict of `probe`."""
    deadline, last_error = time.perf_counter() + START_TIMEOUT_S, None
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            client = connect(url)
        except Exception as error:  # noqa: BLE001 - not listening yet: connection refused and the like
            last_error = error
            time.sleep(0.1)
            continue
        try:
            client.predict(handle_file(probe), api_name="/predict")
            return
        finally:
            client.close()
    raise RuntimeError(f"{url} did not answer within {START_TIMEOUT_S:.0f} s (last error: {last_error!r})")


def end_to_end(url: str, inputs: Inputs, runs: int) -> dict[str, list[float]]:
    client, stock = connect(url), connect(url, stock=True)
    try:
        cases = {
            "/predict 28x28 MNIST PNG": lambda: client.predict(handle_file(inputs.mnist_png), api_name="/predict"),
            "/predict_strokes pad strokes": lambda: client.predict(inputs.strokes, api_name="/predict_strokes"),
            "/predict_sketch 800x800 PNG": lambda: client.predict(sketch_value(inputs), api_name="/predict_sketch"),
            "/predict 28x28 PNG, stock TLS": lambda: stock.predict(
                handle_file(inputs.mnist_png), api_name="/predict"
            ),
        }
        return {name: timed(call, runs) for name, call in cases.items()}
    finally:
        client.close()
        stock.close()


def under_load(server: Server, inputs: Inputs, seconds: float, load: str) -> Load:
    """CLIENTS threads, each with its own Client, sending the drawing of `LOADS[load]` back to
    back for `seconds`."""
    endpoint, value = LOADS[load]

    def ready(_: int) -> Client:
        client = connect(server.url)
        client.predict(value(inputs), api_name=endpoint)  # opens the session's streams
        return client

    def hammer(client: Client, deadline: float) -> tuple[list[float], Counter, float]:
        latencies, failures = [], Counter()
        while (started := time.perf_counter()) < deadline:
            try:
                client.predict(value(inputs), api_name=endpoint)
                latencies.append(time.perf_counter() - started)
            except Exception as error:  # noqa: BLE001 - every kind of failure is counted and shown
                failures[f"{type(error).__name__}: {str(error)[:100]}"] += 1
        return latencies, failures, time.perf_counter()

    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = list(pool.map(ready, range(CLIENTS)))
        try:
            server_cpu, client_cpu = cpu_seconds(server.pid), cpu_seconds(os.getpid(), descendants=False)
            started = time.perf_counter()
            results = list(pool.map(hammer, clients, [started + seconds] * CLIENTS))
            server_cpu = cpu_seconds(server.pid) - server_cpu
            client_cpu = cpu_seconds(os.getpid(), descendants=False) - client_cpu
        finally:
            for client in clients:
                client.close()
    return Load(
        seconds=max(end for _, _, end in results) - started,
        latencies=[latency for latencies, _, _ in results for latency in latencies],
        server_cpu_s=server_cpu,
        client_cpu_s=client_cpu,
        failures=sum((failures for _, failures, _ in results), Counter()),
    )


def interleaved_loads(
    servers: dict[str, Server], inputs: Inputs, seconds: float, rounds: int, load: str,
) -> dict[str, list[Load]]:
    """Each server's turns under load, `seconds` in all in `rounds` turns taken alternately (first
    one server first, then the other), so that a machine whose speed drifts, as a shared VM's does
    by tens of percent within minutes, slows all of them alike."""
    turns: dict[str, list[Load]] = {name: [] for name in servers}
    for turn in range(rounds):
        for name in list(servers)[:: 1 if turn % 2 == 0 else -1]:
            turns[name].append(under_load(servers[name], inputs, seconds / rounds, load))
    return turns


# --------------------------------------------------------------------------------------------
# The no-op twin


class ConstantClassifier:
    """Stands in for `Classifier`: no preprocessing, no model, and always the app's answer to the
    benchmark's drawing (worked out once), so that Gradio's share of the work, down to encoding
    the preview, is the app's."""

    def __init__(self) -> None:
        classifier = Classifier(load_model().model)
        self.answer = classifier.predict(BROWSER_SKETCH)
        self.number = classifier.read_number(BROWSER_SKETCH)  # what the page's own event asks for

    def predict(self, source: object) -> Prediction:
        return self.answer

    def read_number(self, source: object) -> NumberReading:
        return self.number

    def close(self) -> None:
        """Nothing to release."""


def serve_noop(port: int) -> None:
    """The app's own `build_demo` (components, events, queue) around a constant classifier."""
    limit_malloc_arenas()  # as app.py's main does
    gradio_workarounds.apply()  # likewise: the twin sweeps its cache as the app does
    demo = build_demo(ConstantClassifier(), "no-op benchmark twin", None,
                      concurrency=default_concurrency(default_workers()))  # as app.py's
    serve(demo, "127.0.0.1", port)


# --------------------------------------------------------------------------------------------


def report(
    local: dict[str, list[float]], remote: dict[str, list[float]],
    servers: dict[str, Server], turns: dict[str, list[Load]], memory: dict[str, Memory], load: str,
) -> None:
    print_latencies(local, remote)
    print()
    print_loads(turns, load)
    print()
    print(f"{'server':48} {'start-up s':>10} {'processes':>9} {'PSS MiB':>8} {'peak RSS MiB':>12}")
    for name, server in servers.items():
        used = memory[name]
        print(f"{name:48} {server.startup_s:10.1f} {used.processes:9} {used.pss_kib / 1024:8.0f} "
              f"{used.peak_rss_kib / 1024:12.0f}")
    print("(start-up: launch to the first answered /predict; PSS: all the server's processes after the load, "
          "shared pages counted once; peak RSS: the server process's own)")


def print_latencies(local: dict[str, list[float]], remote: dict[str, list[float]]) -> None:
    print(f"{'latency':48} {'n':>5} {'p50 ms':>9} {'p99 ms':>9}  goal")
    for prefix, rows in (("in-process", local), ("gradio_client", remote)):
        for name, times in rows.items():
            p50, p99 = percentiles_ms(times)
            goal = ""
            if prefix == "in-process" and name.startswith("800x800 sketch (decoded"):
                goal = f"p50 < {SKETCH_GOAL_MS:g} ms: {'met' if p50 < SKETCH_GOAL_MS else 'MISSED'}"
            print(f"{prefix + ' ' + name:48} {len(times):5} {p50:9.1f} {p99:9.1f}  {goal}")


def print_loads(turns: dict[str, list[Load]], load: str) -> None:
    loads = {name: Load.merged(parts) for name, parts in turns.items()}
    print(f"{f'{LOADS[load][0]} ({load}), {CLIENTS} clients':48} {'req/s':>9} {'ok':>6} {'failed':>6} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'server CPU':>10} {'client CPU':>10} {'cores':>6}")
    for name, load in loads.items():
        p50, p99 = percentiles_ms(load.latencies) if load.latencies else (float("nan"),) * 2
        cores = (load.server_cpu_s + load.client_cpu_s) / load.seconds
        print(f"{name:48} {load.per_second:9.1f} {len(load.latencies):6} {sum(load.failures.values()):6} "
              f"{p50:8.0f} {p99:8.0f} {load.cpu_ms_per_request(load.server_cpu_s):7.1f} ms "
              f"{load.cpu_ms_per_request(load.client_cpu_s):7.1f} ms {cores:6.2f}")
    app, noop = loads["app"], loads["no-op twin"]
    ratio = app.per_second / noop.per_second if noop.per_second else float("nan")
    # where the load generator rather than the server is the bottleneck, the CPU ratio tells
    # what the server could do once it is the bottleneck
    cpu_ratio = noop.cpu_ms_per_request(noop.server_cpu_s) / app.cpu_ms_per_request(app.server_cpu_s)
    print(f"{'app / no-op':48} {ratio:9.0%}  goal >= {THROUGHPUT_GOAL:.0%}: "
          f"{'met' if ratio >= THROUGHPUT_GOAL else 'MISSED'}; by server CPU per request: {cpu_ratio:.0%}")
    # how much one pair of turns says on its own: the spread is the machine's, not the app's
    pairs = sorted(a.per_second / n.per_second for a, n in zip(turns["app"], turns["no-op twin"]) if n.per_second)
    if pairs:
        print(f"{'app / no-op, each pair of turns':48} {np.median(pairs):9.0%}  median of {len(pairs)}; "
              f"from {pairs[0]:.0%} to {pairs[-1]:.0%}")
    print(f"(CPU per request of the server, all its processes, and of this process's clients; cores: "
          f"both together, of the {os.cpu_count()} here)")
    for name, load in loads.items():
        for message, count in load.failures.most_common(5):
            print(f"  {name} failure x{count}: {message}")


def run(data_dir: Path, seconds: float, rounds: int, runs: int, load: str) -> None:
    torch.set_num_threads(1)  # as app.py does
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="app-latency-") as tmp, ExitStack() as servers_running:
        folder = Path(tmp)
        inputs = make_inputs(data_dir, folder)
        local = in_process(inputs, runs)
        commands = {"app": ["app.py"], "no-op twin": ["-m", "benchmarks.app_latency", "--serve-noop"]}
        servers = {}
        for name, command in commands.items():  # one after the other, so start-up times compare
            (folder / name).mkdir()
            servers[name] = servers_running.enter_context(serving(command, inputs.mnist_png, folder / name))
        remote = end_to_end(servers["app"].url, inputs, max(10, runs // 4))
        turns = interleaved_loads(servers, inputs, seconds, rounds, load)
        memory = {name: Memory(len(process_tree(server.pid)), pss_kib(server.pid),
                               proc_status_kib(server.pid, "VmHWM")) for name, server in servers.items()}
    print()
    report(local, remote, servers, turns, memory, load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="load test length per server (default 60), in --rounds turns")
    parser.add_argument("--rounds", type=int, default=12,
                        help="turns of load per server, taken alternately (default 12)")
    parser.add_argument("--load", choices=list(LOADS), default="strokes",
                        help="what the clients send under load: the pad's strokes (default) or a Sketchpad's PNG")
    parser.add_argument("--runs", type=int, help="in-process runs per input (default 10 per load second)")
    parser.add_argument("--serve-noop", action="store_true", help="only serve the no-op twin (needs --port)")
    parser.add_argument("--port", type=int, help="with --serve-noop")
    args = parser.parse_args()
    if args.serve_noop:
        if args.port is None:
            parser.error("--serve-noop needs --port")
        serve_noop(args.port)
    else:
        run(args.data_dir, args.seconds, args.rounds, args.runs or max(20, round(10 * args.seconds)), args.load)


if __name__ == "__main__":
    main()
