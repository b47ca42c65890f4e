"""A few seconds of the load benchmark's runs (`testkit/load.py`) against a real `python app.py`:
concurrent users of both endpoints get right answers and no failures, and a full queue refuses
at once, then recovers.

The app gets its own process with a queue of QUEUE: room for the CLIENTS of the load test, and
small enough for a flood to fill it within a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit import load
from testkit.app import RunningApp
from testkit.load import Sample

pytestmark = pytest.mark.slow  # seconds of load against an app process of its own

QUEUE = 8
CLIENTS = 8  # never more waiting than a queue of QUEUE holds: it never refuses them
SECONDS = 5.0
QUICK_S = 2.0  # a refused request must be told so within this


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    with load.launched(tmp_path_factory.mktemp("load-app"), max_queue=QUEUE) as app:
        yield app


@pytest.fixture(scope="module")
def samples(data_dir: Path) -> list[Sample]:
    return load.make_samples(data_dir, count=16)


def test_concurrent_users_of_both_endpoints_get_right_answers(
    running: RunningApp, samples: list[Sample], tmp_path: Path,
) -> None:
    summary = load.run_load(running.url, samples, CLIENTS, SECONDS, tmp_path)
    assert not summary.failures, summary.failures
    assert summary.per_endpoint["/predict"] >= CLIENTS and summary.per_endpoint["/predict_sketch"] >= CLIENTS
    assert summary.correct >= 0.9
    assert summary.inconsistent == 0  # the same image always gets the same answer
    assert summary.p99_ms < 1000 * SECONDS


def test_full_queue_refuses_at_once_and_recovers(
    running: RunningApp, samples: list[Sample], data_dir: Path, tmp_path: Path,
) -> None:
    photo = load.make_photo(data_dir, tmp_path / "photo.jpg")
    result = load.run_overload(running.url, photo, samples[0], flood=load.flood_size(QUEUE), seconds=3.0, folder=tmp_path)

    assert result.refusals, "the flood never filled the queue"
    assert all("Queue is full" in message for _, message in result.refusals)
    assert max(elapsed for elapsed, _ in result.refusals) < QUICK_S
    assert result.accepted and all(error is None for _, error in result.accepted)

    refused = [elapsed for elapsed, got in result.user if got == "QueueError: Queue is full! Please try again."]
    assert refused, f"a gradio_client user was never refused during the flood: {result.user}"
    assert max(refused) < QUICK_S
    assert all(got.startswith(("QueueError", f"answered {samples[0].label}")) for _, got in result.user)

    assert result.recovery_s < 10  # no restart needed
    assert result.after_ms < 1000
