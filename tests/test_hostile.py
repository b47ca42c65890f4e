
"""Hostile input (`testkit/hostile_inputs.py`) in-process and against the running app.

Every file case goes through `Classifier` in this process, then through the app as a user or a
script would send it: `/predict`, `/predict_sketch` (as the Sketchpad's composite) and the
number endpoints `/read_number` and `/read_number_sketch` with `gradio_client`, and the plain HTTP routes (`gradio_api/upload`, then `gradio_api/call/predict`
and its event stream) with httpx. Each must answer within `ANSWER_SECONDS` with the outcome its
case names: a one-sentence error containing the case's words (never Gradio's opaque "the app
raised an exception", nor a traceback in the app's log), "blank", or the prediction made
in-process. After each case a good digit must still be read correctly, and the server's memory
must have grown by less than `MEMORY_GROWTH_MB` since the first case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import within
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from mnist_model.decode import ImageError
from mnist_model.loader import load_model
from mnist_model.predict import Classifier
from testkit.app import RunningApp
from testkit.hostile_inputs import (
    DIGIT,
    NOT_A_SKETCH,
    FileCase,
    SketchCase,
    draw_digit,
    file_cases,
    sketch_cases,
)
from testkit.processes import proc_status_kib, process_tree
from testkit.user_images import encode

FILE_CASES = file_cases()
SKETCH_CASES = sketch_cases()
ANSWER_SECONDS = 10
MEMORY_GROWTH_MB = 300  # resident memory, from before the first case to after any case
PEAK_GROWTH_MB = 500  # high-water mark: an RGBA image just under MAX_PIXELS costs ~330 MB
OPAQUE = ("upstream Gradio app has raised an exception", "Traceback", "show_error")


@dataclass(frozen=True)
class Answer:
    """What came back: an error message, or the top label (None when the input was blank)."""

    error: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Memory:
    """The app's resident memory (summed over its processes: the workers decode the images) and
    each process's high-water mark, in MB."""

    resident: float
    peaks: dict[int, float]  # pid -> VmHWM


def assert_answer(case: FileCase | SketchCase, answer: Answer, label: str | None, where: str) -> None:
    if case.outcome == "error":
        assert answer.error is not None, f"{where}: answered {answer.label!r}, not an error"
        assert case.message in answer.error, f"{where}: unclear error {answer.error!r}"
        assert not any(text in answer.error for text in OPAQUE), f"{where}: {answer.error!r}"
        assert answer.error.endswith(".") and "\n" not in answer.error and len(answer.error) < 300
    else:
        assert answer == Answer(label=label), where


def in_process_label(classifier: Classifier, case: FileCase | SketchCase) -> str | None:
    """The in-process answer (checked against the case), which the app must give too."""
    top = classifier.predict(case.data if isinstance(case, FileCase) else case.value).top
    if case.outcome == "blank":
        assert top is None, f"{case.name}: {top}"
        return None
    assert top is not None, f"{case.name} came out blank"
    assert case.label in (None, top[0]), f"{case.name}: {top}"
    return top[0]


def in_process_number(classifier: Classifier, case: FileCase | SketchCase) -> str | None:
    """The number read in process, which the number endpoints must give too (None: blank)."""
    text = classifier.read_number(case.data if isinstance(case, FileCase) else case.value).text
    assert (text == "") == (case.outcome == "blank"), f"{case.name}: {text!r}"
    return text or None


def memory(app: RunningApp) -> Memory:
    tree = process_tree(app.process.pid)
    peaks = {pid: proc_status_kib(pid, "VmHWM") / 1024 for pid in tree}
    return Memory(sum(proc_status_kib(pid, "VmRSS") for pid in tree) / 1024, peaks)


def assert_memory_bounded(app: RunningApp, before: Memory) -> None:
    """Checked after every case, so that a growth is pinned on the case that caused it."""
    now = memory(app)
    assert now.resident - before.resident < MEMORY_GROWTH_MB, (before, now)
    for pid in now.peaks.keys() & before.peaks.keys():
        assert now.peaks[pid] - before.peaks[pid] < PEAK_GROWTH_MB, (pid, before, now)


def new_log(app: RunningApp, since: int) -> str:
    """What the app has logged since byte `since`."""
    with app.log.open("rb") as log:
        log.seek(since)
        return log.read().decode(errors="replace")


def save(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(load_model().model)


@pytest.fixture(scope="module")
def client(app: RunningApp) -> Client:
    return Client(app.url, verbose=False)


@pytest.fixture(scope="module")
def good_digit(tmp_path_factory: pytest.TempPathFactory) -> str:
    return save(tmp_path_factory.mktemp("good"), "seven.png", encode(draw_digit(), "PNG"))


@pytest.fixture(scope="module")
def memory_before(app: RunningApp, client: Client, good_digit: str) -> Memory:
    """The app's memory before the first hostile request of this module (after a good one)."""
    assert via_client(client, handle_file(good_digit), "/predict") == Answer(label=DIGIT)
    return memory(app)


# ------------------------------------------------------------------------------------------
# The three ways in


def via_client(client: Client, value: Any, api_name: str) -> Answer:
    """One call; a number endpoint's answer is its number ("" for blank: None)."""
    try:
        first, _ = client.predict(value, api_name=api_name)
    except AppError as error:
        return Answer(error=str(error))
    if api_name.startswith("/read_number"):
        return Answer(label=first or None)
    return Answer(label=first["label"] if first.get("confidences") else None)


def via_http(url: str, path: str) -> Answer:
    """Upload with a multipart POST, then call `/predict` with the path the server gave back."""
    with httpx.Client(base_url=url, timeout=ANSWER_SECONDS) as http, open(path, "rb") as handle:
        upload = http.post("gradio_api/upload", files={"files": (Path(path).name, handle)})
    upload.raise_for_status()
    return call_http(url, "predict", file_data(upload.json()[0]))


def file_data(server_path: str) -> dict[str, Any]:
    return {"path": server_path, "meta": {"_type": "gradio.FileData"}}


def call_http(url: str, endpoint: str, value: Any) -> Answer:
    """POST the call, then read its result from the event stream."""
    with httpx.Client(base_url=url, timeout=ANSWER_SECONDS) as http:
        call = http.post(f"gradio_api/call/{endpoint}", json={"data": [value]})
        call.raise_for_status()
        stream = http.get(f"gradio_api/call/{endpoint}/{call.json()['event_id']}").text
    events = dict(line.split(": ", 1) for line in stream.splitlines() if ": " in line)
    if events.get("event") == "error":
        return Answer(error=(json.loads(events["data"]) or {}).get("error") or "(no message)")
    assert events.get("event") == "complete", stream
    label = json.loads(events["data"])[0]
    return Answer(label=label["label"] if label.get("confidences") else None)


def as_files(value: Any, folder: Path) -> Any:
    """A sketch case's value with each bytes part saved to a file and wrapped in `handle_file`."""
    if isinstance(value, bytes):
        return handle_file(save(folder, f"part-{len(list(folder.iterdir()))}.png", value))
    if isinstance(value, dict):
        return {key: as_files(part, folder) for key, part in value.items()}
    if isinstance(value, list):
        return [as_files(part, folder) for part in value]
    return value


# ------------------------------------------------------------------------------------------
# In-process


@pytest.mark.parametrize("case", FILE_CASES, ids=[case.name for case in FILE_CASES])
def test_file_case_in_process(classifier: Classifier, case: FileCase) -> None:
    def run() -> Answer:
        try:
            top = classifier.predict(case.data).top
        except ImageError as error:
            return Answer(error=str(error))
        return Answer(label=top[0] if top else None)

    def run_number() -> Answer:
        try:
            return Answer(label=classifier.read_number(case.data).text or None)
        except ImageError as error:
            return Answer(error=str(error))

    answer = within(ANSWER_SECONDS, run)
    label = None if case.outcome == "error" else in_process_label(classifier, case)
    assert_answer(case, answer, label, "in-process")
    number = None if case.outcome == "error" else in_process_number(classifier, case)
    assert_answer(case, within(ANSWER_SECONDS, run_number), number, "in-process, as a number")


@pytest.mark.parametrize("case", SKETCH_CASES, ids=[case.name for case in SKETCH_CASES])
def test_sketch_case_in_process(classifier: Classifier, case: SketchCase) -> None:
    if case.outcome == "error":  # the words differ in-process: the app checks the value first
        with pytest.raises(ImageError):
            classifier.predict(case.value)
        with pytest.raises(ImageError):
            classifier.read_number(case.value)
    else:
        in_process_label(classifier, case)
        in_process_number(classifier, case)


# ------------------------------------------------------------------------------------------
# Against the app


@pytest.mark.parametrize("case", FILE_CASES, ids=[case.name for case in FILE_CASES])
@pytest.mark.slow
def test_file_case_through_every_route(
    app: RunningApp, client: Client, classifier: Classifier, good_digit: str, memory_before: Memory,
    case: FileCase, tmp_path: Path,
) -> None:
    path = save(tmp_path, case.filename, case.data)
    label = None if case.outcome == "error" else in_process_label(classifier, case)
    number = None if case.outcome == "error" else in_process_number(classifier, case)
    sketch = {"background": None, "layers": [], "composite": handle_file(path)}
    routes = {
        "/predict": (label, lambda: via_client(client, handle_file(path), "/predict")),
        "/predict_sketch": (label, lambda: via_client(client, sketch, "/predict_sketch")),
        "HTTP upload + call": (label, lambda: via_http(app.url, path)),
        "/read_number": (number, lambda: via_client(client, handle_file(path), "/read_number")),
        "/read_number_sketch": (number, lambda: via_client(client, sketch, "/read_number_sketch")),
    }
    log_start = app.log.stat().st_size
    for route, (expected, call) in routes.items():
        assert_answer(case, within(ANSWER_SECONDS, call), expected, route)
    log = new_log(app, log_start)
    assert "Traceback" not in log, log
    good = within(ANSWER_SECONDS, lambda: via_client(client, handle_file(good_digit), "/predict"))
    assert good == Answer(label=DIGIT), f"the next good request, after {case.name}"
    assert_memory_bounded(app, memory_before)


@pytest.mark.parametrize("case", SKETCH_CASES, ids=[case.name for case in SKETCH_CASES])
@pytest.mark.slow
def test_sketch_case_through_both_sketch_endpoints(
    app: RunningApp, client: Client, classifier: Classifier, good_digit: str, memory_before: Memory,
    case: SketchCase, tmp_path: Path,
) -> None:
    label = None if case.outcome == "error" else in_process_label(classifier, case)
    number = None if case.outcome == "error" else in_process_number(classifier, case)
    value = as_files(case.value, tmp_path)
    log_start = app.log.stat().st_size
    answer = within(ANSWER_SECONDS, lambda: via_client(client, value, "/predict_sketch"))
    assert_answer(case, answer, label, "/predict_sketch")
    answer = within(ANSWER_SECONDS, lambda: via_client(client, value, "/read_number_sketch"))
    assert_answer(case, answer, number, "/read_number_sketch")
    log = new_log(app, log_start)
    assert "Traceback" not in log, log
    good = {"background": None, "layers": [], "composite": handle_file(good_digit)}
    assert within(ANSWER_SECONDS, lambda: via_client(client, good, "/predict_sketch")) == Answer(label=DIGIT)
    assert_memory_bounded(app, memory_before)


@pytest.mark.slow
def test_a_bare_file_sent_as_a_sketch_is_a_clear_error(client: Client, good_digit: str) -> None:
    # the likeliest mistake in a hand-made call: a file where the Sketchpad's dict belongs
    answer = within(ANSWER_SECONDS, lambda: via_client(client, handle_file(good_digit), "/predict_sketch"))
    assert answer.error is not None and NOT_A_SKETCH in answer.error, answer


@pytest.mark.parametrize("endpoint", ["predict", "predict_sketch"])
@pytest.mark.slow
def test_a_server_file_named_by_the_caller_is_never_read(app: RunningApp, endpoint: str, tmp_path: Path) -> None:
    # A hand-made call can name any path on the server (gradio_client would upload it instead).
    # Gradio refuses a file that was not uploaded, before the app sees it, with its own opaque
    # error: what matters is that the file is neither classified nor described.
    secret = file_data(save(tmp_path, "server-side.png", encode(draw_digit(), "PNG")))
    value = secret if endpoint == "predict" else {"background": None, "layers": [], "composite": secret}
    answer = within(ANSWER_SECONDS, lambda: call_http(app.url, endpoint, value))
    assert answer.error is not None and "server-side" not in answer.error, answer
