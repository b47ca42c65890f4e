"""Test set-up shared by every test module.

The Hub cannot be reached from the machines that run the tests, so a local stand-in
(`tests/hub_server.py`) is started here, before any test module imports `huggingface_hub`:
that library reads `HF_ENDPOINT` and `HF_HOME` once, at import.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hub_server import FakeHub

REPO_ROOT = Path(__file__).resolve().parent.parent
HUB_TOKEN = "hf_test-token-that-must-never-be-printed"  # fake; hyphens keep secret scanners quiet

_hub = FakeHub(valid_tokens={HUB_TOKEN})
_hf_home = tempfile.mkdtemp(prefix="hf-home-")


def pytest_configure(config: pytest.Config) -> None:
    os.environ["HF_ENDPOINT"] = _hub.start()
    os.environ["HF_HOME"] = _hf_home
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ.pop("HF_TOKEN", None)
    os.environ.pop("HF_HUB_OFFLINE", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    _hub.stop()
    shutil.rmtree(_hf_home, ignore_errors=True)


@pytest.fixture(scope="session")
def hub() -> FakeHub:
    return _hub


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The MNIST folder: $MNIST_DATA_DIR, else the read-only copy in ../shared/data."""
    path = Path(os.environ.get("MNIST_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
    if not (path / "MNIST" / "raw").is_dir():
        pytest.fail(f"MNIST not found in {path}/MNIST/raw: set MNIST_DATA_DIR to a folder holding it")
    return path


@pytest.fixture(scope="session")
def env_for_subprocess() -> dict[str, str]:
    """The environment a `train.py` or `python -m mnist_model` child process should run in."""
    return {**os.environ, "PYTHONPATH": str(REPO_ROOT)}


T = TypeVar("T")


def within(seconds: float, call: Callable[[], T]) -> T:
    """`call()` in a daemon thread: a hung call fails the test instead of hanging the suite."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # noqa: BLE001 - re-raised in the test's thread below
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"no answer within {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningApp:
    """A `python app.py` child process serving on `url`, its output going to `log`."""

    url: str
    process: subprocess.Popen
    log: Path


def launch_app(
    args: list[str], env: dict[str, str], output: Any, cwd: Path = REPO_ROOT, limit_s: float = 120,
    start_new_session: bool = False,
) -> tuple[subprocess.Popen, int]:
    """Start `python app.py --port P ARGS` (stdout and stderr to `output`) and return once it
    listens on P or has exited, whichever comes first; (process, P). Fails after `limit_s`."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), *args], cwd=cwd, env=env,
        stdout=output, stderr=subprocess.STDOUT, text=True, start_new_session=start_new_session,
    )
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process, port
        except OSError:
            time.sleep(0.3)
    if process.poll() is None:
        process.kill()
        pytest.fail(f"app.py {' '.join(args)} neither served nor exited within {limit_s:.0f} s")
    return process, port


@pytest.fixture(scope="session")
def app(env_for_subprocess: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """`python app.py` on a free port, with the shipped weights; stopped at the end of the session."""
    log = tmp_path_factory.mktemp("app") / "app.log"
    process, port = launch_app([], env_for_subprocess, log.open("w"))
    if process.poll() is not None:
        pytest.fail(f"app.py exited with {process.returncode}:\n{log.read_text()}")
    yield RunningApp(f"http://127.0.0.1:{port}/", process, log)
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def app_url(app: RunningApp) -> str:
    return app.url
