"""Test set-up shared by every test module.

The Hub cannot be reached from the machines that run the tests, so a local stand-in
(`tests/hub_server.py`) is started here, before any test module imports `huggingface_hub`:
that library reads `HF_ENDPOINT` and `HF_HOME` once, at import.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hub_server import FakeHub
from testkit.app import RunningApp, running_app

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test that uses the session's app server unless it is marked slow: the quick run,
    `pytest -m "not slow"`, must start no server."""
    unmarked = [item.nodeid for item in items
                if "app" in getattr(item, "fixturenames", ()) and item.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError("these tests use the app server; mark them @pytest.mark.slow: " + ", ".join(unmarked))


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


@pytest.fixture(scope="session")
def app(env_for_subprocess: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """`python app.py` on a free port, with the shipped weights; stopped at the end of the session."""
    with running_app([], env_for_subprocess, tmp_path_factory.mktemp("app") / "app.log") as running:
        yield running


@pytest.fixture(scope="session")
def app_url(app: RunningApp) -> str:
    return app.url
