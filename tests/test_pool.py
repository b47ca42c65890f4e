"""The processes that classify for the app: the same answers as in the server's own process,
errors that survive the trip, a pool that outlives dead workers, and no worker outliving the app.

Workers are killed for real: by inputs whose unpickling ends the worker process that reads them
(as a crashing decoder or the out-of-memory killer would), and by SIGKILL and Ctrl+C to the app.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT, within
from gradio_client import Client, handle_file

from mnist_model.decode import ImageError
from mnist_model.loader import load_model
from mnist_model.pool import WORKER_NICENESS, ClassifierPool, WorkerError
from mnist_model.predict import Classifier, Prediction
from testkit.app import launch_app
from testkit.processes import process_tree

DRAWING = REPO_ROOT / "benchmarks" / "inputs" / "sketch_chromium_800x800.png"  # a 7, drawn in Chromium
EXAMPLES = sorted((REPO_ROOT / "examples").glob("*.[pj][np]g"))
# Ctrl-C to the app's exit: seconds on a quiet machine. A full suite beside other work timed out
# at 30 s a few times, on a hang no run alone reproduces; the stacks it then prints tell where.
STOP_LIMIT_S = 60
STACKS_ON = signal.SIGABRT  # with PYTHONFAULTHANDLER set, Python dumps every thread's stack


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_model().model)


@pytest.fixture(scope="module")
def pool(classifier: Classifier) -> Iterator[ClassifierPool]:
    pool = ClassifierPool(classifier.model, workers=2)
    yield pool
    pool.close()


def assert_same(got: Prediction, expected: Prediction) -> None:
    assert got.preview.tobytes() == expected.preview.tobytes()
    if expected.confidences is None:
        assert got.confidences is None
    else:
        assert got.confidences == pytest.approx(expected.confidences, abs=1e-6)


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="process priorities are POSIX")
def test_workers_run_at_a_lower_priority_than_the_server(classifier: Classifier) -> None:
    before = set(process_tree(os.getpid()))
    pool = ClassifierPool(classifier.model, workers=2)
    try:
        pool.warm_up()
        started = set(process_tree(os.getpid())) - before  # the workers, a fork server if new
        niceness = sorted(os.getpriority(os.PRIO_PROCESS, pid) for pid in started)
    finally:
        pool.close()
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert WORKER_NICENESS > 0
    assert niceness.count(min(ours + WORKER_NICENESS, 19)) == 2, niceness


def test_workers_answer_as_the_server_process_would(pool: ClassifierPool, classifier: Classifier) -> None:
    sources: list[object] = [
        *map(str, EXAMPLES),
        DRAWING.read_bytes(),
        {"background": None, "layers": [], "composite": str(DRAWING)},
        None,  # blank
        {"background": None, "layers": [], "composite": None},  # an empty Sketchpad
    ]
    assert len(EXAMPLES) >= 5
    for source in sources:
        assert_same(within(60, lambda source=source: pool.predict(source)), classifier.predict(source))
    assert pool.predict(str(DRAWING)).top[0] == "7"


def test_bad_input_fails_with_its_own_message(pool: ClassifierPool, tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageError, match=r"^The file notes.png is not an image in a format this app can read\.$"):
        pool.predict(str(text))
    with pytest.raises(ImageError, match=r"^The uploaded file is empty\.$"):
        pool.predict(b"")
    assert pool.predict(str(DRAWING)).top[0] == "7"  # the workers are unharmed


class KillsItsReader:
    """An input whose unpickling ends the worker process that reads it."""

    def __reduce__(self) -> tuple:
        return os._exit, (70,)


class KillsFirstReader:
    """An input that ends the first worker process that reads it, then reads as `path`."""

    def __init__(self, marker: Path, path: Path) -> None:
        self.marker, self.path = marker, path

    def __reduce__(self) -> tuple:
        return _kill_once, (str(self.marker), str(self.path))


def _kill_once(marker: str, path: str) -> str:
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return path
    os._exit(70)


def test_a_request_whose_worker_dies_is_retried_on_new_workers(pool: ClassifierPool, tmp_path: Path) -> None:
    marker = tmp_path / "killed-once"
    prediction = within(60, lambda: pool.predict(KillsFirstReader(marker, DRAWING)))
    assert marker.exists()  # a worker did die
    assert prediction.top[0] == "7"


def test_an_input_that_kills_every_worker_fails_and_the_pool_recovers(pool: ClassifierPool) -> None:
    with pytest.raises(WorkerError, match="stopped the worker process that ran it, twice"):
        within(60, lambda: pool.predict(KillsItsReader()))
    assert within(60, lambda: pool.predict(str(DRAWING))).top[0] == "7"


def test_a_pool_needs_a_worker(classifier: Classifier) -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        ClassifierPool(classifier.model, workers=0)


# --------------------------------------------------------------------------------------------
# Workers of a real `python app.py`


def tagged_processes(tag: str) -> list[int]:
    """Processes whose environment holds `tag` (the app and everything it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if tag.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # gone, or not ours
                continue
    return found


def wait_until_gone(tag: str, seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := tagged_processes(tag)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.fixture
def tagged_app(env_for_subprocess: dict[str, str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """`python app.py --workers 2` in its own process group, every process it starts tagged; its
    output unbuffered, and every thread's stack written to it on SIGABRT (`STACKS_ON`)."""
    tag = f"MNIST_TEST_TAG={uuid.uuid4().hex}"
    name, value = tag.split("=")
    log = tmp_path / "app.log"
    env = {**env_for_subprocess, name: value, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    process, port = launch_app(["--workers", "2"], env, log.open("w"), start_new_session=True)
    if process.poll() is not None:
        pytest.fail(f"app.py exited with {process.returncode}:\n{log.read_text()}")
    client = Client(f"http://127.0.0.1:{port}/", verbose=False, download_files=False)
    label, _ = within(60, lambda: client.predict(handle_file(DRAWING), api_name="/predict"))
    client.close()
    assert label["label"] == "7"
    try:
        yield process, tag, log
    finally:
        for pid in tagged_processes(tag):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
@pytest.mark.slow
def test_no_worker_outlives_an_app_killed_with_sigkill(tagged_app: tuple[subprocess.Popen, str, Path]) -> None:
    process, tag, _ = tagged_app
    assert len(tagged_processes(tag)) >= 4  # the server, the fork server, two workers
    process.kill()
    process.wait(timeout=10)
    assert wait_until_gone(tag, 10) == []


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
@pytest.mark.slow
def test_ctrl_c_stops_the_app_and_its_workers_quietly(tagged_app: tuple[subprocess.Popen, str, Path]) -> None:
    process, tag, log = tagged_app
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends the whole process group
    try:
        process.wait(timeout=STOP_LIMIT_S)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, STACKS_ON)  # where the server is stuck, for the failure's message
        process.wait(timeout=30)
        pytest.fail(f"app.py still ran {STOP_LIMIT_S} s after Ctrl-C; its output and stacks:\n"
                    f"{log.read_text()[-12000:]}")
    assert wait_until_gone(tag, 10) == []
    output = log.read_text()
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output


def test_the_workers_option(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from app import REQUESTS_PER_WORKER, default_concurrency, parse_args

    monkeypatch.setenv("MNIST_WORKERS", "3")
    assert parse_args([]).workers == 3
    assert parse_args(["--workers", "0"]).workers == 0
    for bad, message in (("-1", "--workers must be 0 or more, not -1"), ("two", "invalid int value: 'two'")):
        with pytest.raises(SystemExit):
            parse_args(["--workers", bad])
        assert message in capsys.readouterr().err
    assert default_concurrency(2) == 2 * REQUESTS_PER_WORKER
    assert default_concurrency(0) == (os.cpu_count() or 1)  # in the server's threads: one per core


def test_the_app_classifies_in_its_threads_for_workers_0_else_in_a_pool_and_closes_either(
    classifier: Classifier,
) -> None:
    from app import start_classifier

    in_server = start_classifier(classifier.model, 0)
    assert type(in_server) is Classifier
    in_server.close()  # nothing to release: it goes on classifying
    assert in_server.predict(str(DRAWING)).top[0] == "7"
    before = set(process_tree(os.getpid()))
    pool = start_classifier(classifier.model, 2)
    try:
        assert type(pool) is ClassifierPool
        # the workers are up before the first request (and a fork server, if this process had none)
        assert len(set(process_tree(os.getpid())) - before) >= 2
        assert_same(pool.predict(str(DRAWING)), in_server.predict(str(DRAWING)))
    finally:
        pool.close()
    assert len(set(process_tree(os.getpid())) - before) <= 1  # the workers are gone; a fork server stays
