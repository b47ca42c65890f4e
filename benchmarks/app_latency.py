"""How fast the app answers: in-process, through gradio_client, under load, at start-up.

A digit demo feels broken when a stroke takes a second to classify. This measures, in one run
and on one machine so the numbers compare: the preprocessing plus forward pass in this process
(`Classifier.predict`, the app's exact path, one torch thread as in the app) for a 28x28 MNIST
PNG, an 800x800 Sketchpad drawing and a 3000x4000 phone photo; the latency of `/predict` and
`/predict_sketch` through `gradio_client` against `python app.py`; the throughput of 16
concurrent clients against the app and against a no-op twin (the app's own `build_demo`, same
components and queue, whose classifier returns a constant), whose ratio is what preprocessing
and the model cost on top of Gradio's own work; the time from launching `app.py` to its first
answer; and the app's resident memory after the load.

    python -m benchmarks.app_latency [--data-dir DIR]   # ~2 minutes
    python -m benchmarks.app_latency --seconds 5         # quick look: shorter load, fewer runs

All traffic stays on 127.0.0.1; both servers are subprocesses, stopped however the run ends,
with their Gradio file cache in a temporary folder that is removed afterwards.
`python -m benchmarks.app_latency --serve-noop --port PORT` serves the no-op twin alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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

from app import build_demo, serve  # noqa: E402
from benchmarks.processes import stop  # noqa: E402
from benchmarks.user_images import make_user_image  # noqa: E402
from mnist_model.data import default_data_dir, load_mnist  # noqa: E402
from mnist_model.loader import load_model  # noqa: E402
from mnist_model.predict import Classifier, Prediction  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
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
    sketch_png: Path  # 800x800 composite, as the browser uploads it
    sketch: dict  # a Sketchpad value holding decoded RGBA pixels (the goal's "preprocessing + inference")
    photo_jpg: Path  # PHOTO_SIZE phone photo of paper


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
    composite = make_user_image(digit, "sketch_composite", rng).convert("RGBA")
    sketch_png = folder / "sketch_800x800.png"
    composite.save(sketch_png)
    photo_jpg = folder / "photo_3000x4000.jpg"
    photo = make_user_image(digit, "photo", rng).convert("RGB")
    photo.resize(PHOTO_SIZE, Image.Resampling.BICUBIC).save(photo_jpg, quality=90)
    sketch = {"background": None, "layers": [], "composite": np.asarray(composite)}
    return Inputs(mnist_png, sketch_png, sketch, photo_jpg)


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


def proc_status_kib(pid: int, key: str) -> int:
    """A memory line of /proc/<pid>/status (VmRSS, VmHWM), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def connect(url: str, stock: bool = False) -> Client:
    """A Client sharing SHARED_TLS; `stock`: with gradio_client's default, a context per call."""
    return Client(url, verbose=False, analytics_enabled=False, download_files=False,
                  ssl_verify=True if stock else SHARED_TLS)  # type: ignore[arg-type]  # httpx's verify=


# --------------------------------------------------------------------------------------------
# The measurements


def in_process(inputs: Inputs, runs: int) -> dict[str, list[float]]:
    """`Classifier.predict` as the app calls it, on one torch thread."""
    classifier = Classifier(load_model().model)
    cases = {
        "28x28 MNIST PNG (file)": (inputs.mnist_png, runs),
        "800x800 sketch (decoded RGBA pixels)": (inputs.sketch, runs),
        "800x800 sketch (PNG file, as the app reads it)": (inputs.sketch_png, runs),
        "3000x4000 photo (JPEG file)": (inputs.photo_jpg, max(5, runs // 10)),
    }
    for name, (source, _) in cases.items():
        if classifier.predict(source).confidences is None:
            raise RuntimeError(f"the {name} was read as blank; the benchmark input is broken")
    return {name: timed(lambda source=source: classifier.predict(source), n) for name, (source, n) in cases.items()}


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
            "/predict_sketch 800x800 PNG": lambda: client.predict(
                {"background": None, "layers": [], "composite": handle_file(inputs.sketch_png)},
                api_name="/predict_sketch",
            ),
            "/predict 28x28 PNG, stock TLS": lambda: stock.predict(
                handle_file(inputs.mnist_png), api_name="/predict"
            ),
        }
        return {name: timed(call, runs) for name, call in cases.items()}
    finally:
        client.close()
        stock.close()


def under_load(server: Server, image: Path, seconds: float) -> Load:
    """CLIENTS threads, each with its own Client, calling /predict back to back for `seconds`."""

    def ready(_: int) -> Client:
        client = connect(server.url)
        client.predict(handle_file(image), api_name="/predict")  # opens the session's streams
        return client

    def hammer(client: Client, deadline: float) -> tuple[list[float], Counter, float]:
        latencies, failures = [], Counter()
        while (started := time.perf_counter()) < deadline:
            try:
                client.predict(handle_file(image), api_name="/predict")
                latencies.append(time.perf_counter() - started)
            except Exception as error:  # noqa: BLE001 - every kind of failure is counted and shown
                failures[f"{type(error).__name__}: {str(error)[:100]}"] += 1
        return latencies, failures, time.perf_counter()

    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = list(pool.map(ready, range(CLIENTS)))
        try:
            server_cpu, client_cpu = cpu_seconds(server.pid), cpu_seconds(os.getpid())
            started = time.perf_counter()
            results = list(pool.map(hammer, clients, [started + seconds] * CLIENTS))
            server_cpu, client_cpu = cpu_seconds(server.pid) - server_cpu, cpu_seconds(os.getpid()) - client_cpu
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


# --------------------------------------------------------------------------------------------
# The no-op twin


class ConstantClassifier:
    """Stands in for `Classifier`: the same kind of answer, no preprocessing, no model."""

    ANSWER = Prediction(confidences={str(digit): 0.1 for digit in range(10)},
                        preview=Image.new("L", (140, 140), 0))

    def predict(self, source: object) -> Prediction:
        return self.ANSWER


def serve_noop(port: int) -> None:
    """The app's own `build_demo` (components, events, queue) around a constant classifier."""
    demo = build_demo(ConstantClassifier(), "no-op benchmark twin", None)  # type: ignore[arg-type]
    serve(demo, "127.0.0.1", port)


# --------------------------------------------------------------------------------------------


def report(
    local: dict[str, list[float]], remote: dict[str, list[float]],
    servers: dict[str, Server], loads: dict[str, Load], memory: dict[str, tuple[int, int]],
) -> None:
    print_latencies(local, remote)
    print()
    print_loads(loads)
    print()
    print(f"{'process':48} {'start-up s':>10} {'RSS MiB':>9} {'peak MiB':>9}")
    for name, server in servers.items():
        rss, peak = memory[name]
        print(f"{name:48} {server.startup_s:10.1f} {rss / 1024:9.0f} {peak / 1024:9.0f}")
    print("(start-up: launch to the first answered /predict; RSS: VmRSS after the load, peak: VmHWM)")


def print_latencies(local: dict[str, list[float]], remote: dict[str, list[float]]) -> None:
    print(f"{'latency':48} {'n':>5} {'p50 ms':>9} {'p99 ms':>9}  goal")
    for prefix, rows in (("in-process", local), ("gradio_client", remote)):
        for name, times in rows.items():
            p50, p99 = percentiles_ms(times)
            goal = ""
            if prefix == "in-process" and name.startswith("800x800 sketch (decoded"):
                goal = f"p50 < {SKETCH_GOAL_MS:g} ms: {'met' if p50 < SKETCH_GOAL_MS else 'MISSED'}"
            print(f"{prefix + ' ' + name:48} {len(times):5} {p50:9.1f} {p99:9.1f}  {goal}")


def print_loads(loads: dict[str, Load]) -> None:
    print(f"{f'/predict 800x800 PNG, {CLIENTS} clients':48} {'req/s':>9} {'ok':>6} {'failed':>6} "
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
    print(f"(CPU per request of the server and of this process's clients; cores: both together, "
          f"of the {os.cpu_count()} here)")
    for name, load in loads.items():
        for message, count in load.failures.most_common(5):
            print(f"  {name} failure x{count}: {message}")


def run(data_dir: Path, seconds: float, runs: int) -> None:
    torch.set_num_threads(1)  # as app.py does
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="app-latency-") as tmp:
        folder = Path(tmp)
        inputs = make_inputs(data_dir, folder)
        local = in_process(inputs, runs)
        commands = {"app": ["app.py"], "no-op twin": ["-m", "benchmarks.app_latency", "--serve-noop"]}
        servers, loads, memory, remote = {}, {}, {}, {}
        for name, command in commands.items():
            (folder / name).mkdir()
            with serving(command, inputs.mnist_png, folder / name) as server:
                servers[name] = server
                if name == "app":
                    remote = end_to_end(server.url, inputs, max(10, runs // 4))
                loads[name] = under_load(server, inputs.sketch_png, seconds)
                memory[name] = (proc_status_kib(server.pid, "VmRSS"), proc_status_kib(server.pid, "VmHWM"))
    print()
    report(local, remote, servers, loads, memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each load test (default 20)")
    parser.add_argument("--runs", type=int, help="in-process runs per input (default 10 per load second)")
    parser.add_argument("--serve-noop", action="store_true", help="only serve the no-op twin (needs --port)")
    parser.add_argument("--port", type=int, help="with --serve-noop")
    args = parser.parse_args()
    if args.serve_noop:
        if args.port is None:
            parser.error("--serve-noop needs --port")
        serve_noop(args.port)
    else:
        run(args.data_dir, args.seconds, args.runs or max(20, round(10 * args.seconds)))


if __name__ == "__main__":
    main()
