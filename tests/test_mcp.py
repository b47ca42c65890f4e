"""The real app as an MCP server (`python app.py --mcp`), called the way an AI assistant calls it:
the `mcp` package's own client (`streamable_http_client`, mcp 1.30's name for `streamablehttp_client`) at
/gradio_api/mcp/

A call gets the label's Python repr, then the image the model saw and its URL, with a progress
token or without (`gradio_workarounds.MCPServer`: Gradio's own answers a call without one in one
text item).
"""

from __future__ import annotations

import ast
import asyncio
import base64
import io
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult
from PIL import Image

import app as app_module
from app import BLANK_MESSAGE, MCP_ENV
from mnist_model import serving
from mnist_model.data import load_mnist
from testkit import pen
from testkit.app import RunningApp, running_app
from testkit.user_images import encode, make_user_image

pytestmark = pytest.mark.slow

MCP_PATH = "gradio_api/mcp/"
CALL_LIMIT_S = 120.0  # one session: connect, list or call; the first call also warms the model
PUBLIC_TOOLS = {"predict", "predict_sketch", "predict_strokes", "read_number", "read_number_sketch", "read_strokes"}
# User-like images of MNIST test digits: (kind, file format).
USER_KINDS = (("sketch_composite", "PNG"), ("coloured_pen", "PNG"), ("photo", "JPEG"),
              ("white_on_black", "PNG"), ("thick_marker", "PNG"))

T = TypeVar("T")


def app_env(env_for_subprocess: dict[str, str]) -> dict[str, str]:
    """The tests' environment without GRADIO_MCP_SERVER (only the flag decides), and Gradio's
    printed lines (the MCP URL) in the log at once rather than when a buffer fills."""
    env = {key: value for key, value in env_for_subprocess.items() if key != MCP_ENV}
    return {**env, "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def mcp_app(env_for_subprocess: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    log = tmp_path_factory.mktemp("mcp_app") / "app.log"
    with running_app(["--mcp", "--workers", "0"], app_env(env_for_subprocess), log) as running:
        yield running


def with_session(url: str, use: Callable[[ClientSession], Awaitable[T]], limit_s: float = CALL_LIMIT_S) -> T:
    """`use(session)` in a fresh MCP session with the server at `url`, all of it within `limit_s`."""

    async def session_run() -> T:
        async with streamable_http_client(url) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await use(session)

    async def bounded() -> T:
        return await asyncio.wait_for(session_run(), limit_s)

    return asyncio.run(bounded())


def call(url: str, tool: str, arguments: dict[str, Any], progress: bool = False) -> CallToolResult:
    async def progress_seen(progress: float, total: float | None, message: str | None) -> None:
        pass

    return with_session(url, lambda session: session.call_tool(
        tool, arguments, progress_callback=progress_seen if progress else None))


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def label_of(result: CallToolResult) -> dict[str, Any]:
    """The gr.Label value in a tool result, {"label": ..., "confidences": [...] or None}, after
    checking the result's shape: the label, the image, the image's URL."""
    assert not result.isError, result.content
    assert [item.type for item in result.content] == ["text", "image", "text"], result.content
    value = ast.literal_eval(result.content[0].text)
    assert isinstance(value, dict) and "label" in value, value
    return value


def mcp_url(running: RunningApp) -> str:
    return running.url + MCP_PATH


@pytest.fixture(scope="module")
def digits(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mnist(data_dir, train=False)
    return images[:len(USER_KINDS)].numpy(), labels[:len(USER_KINDS)].numpy()


def test_mcp_url_is_logged(mcp_app: RunningApp) -> None:
    line = f"Streamable HTTP URL: {mcp_app.url}{MCP_PATH}"
    deadline = time.monotonic() + 30  # printed just after the server starts listening
    while line not in mcp_app.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert mcp_app.log.read_text().count(line) == 1


def test_tools_are_the_public_api(mcp_app: RunningApp) -> None:
    async def tools(session: ClientSession) -> list:
        return (await session.list_tools()).tools

    listed = {tool.name: tool for tool in with_session(mcp_url(mcp_app), tools)}
    assert set(listed) == PUBLIC_TOOLS  # not the Classify button, Clear or the Label relays
    for tool in listed.values():
        text = tool.description.lower()
        assert "digit" in text and "blank" in text and "not a digit" in text, tool.description
        if tool.name.startswith("predict"):
            assert BLANK_MESSAGE in tool.description
        (parameter,) = tool.inputSchema["properties"].values()
        assert parameter.get("description"), tool.inputSchema  # from the docstring's Args:
    assert "data: URL" in listed["predict"].inputSchema["properties"]["image"]["description"]


def test_predict_reads_user_images(mcp_app: RunningApp, digits) -> None:
    images, labels = digits
    rng = np.random.default_rng(13)
    correct = 0
    for (kind, fmt), image, label in zip(USER_KINDS, images, labels):
        picture = make_user_image(image, kind, rng)
        picture = picture.convert("RGB") if fmt == "JPEG" else picture
        url = data_url(encode(picture, fmt), f"image/{fmt.lower()}")
        value = label_of(call(mcp_url(mcp_app), "predict", {"image": url}))
        confidences = value["confidences"]
        assert sorted(c["label"] for c in confidences) == [*map(str, range(10)), "not a digit"]
        assert abs(sum(c["confidence"] for c in confidences) - 1) < 1e-4
        correct += value["label"] == str(label)
    assert correct >= len(USER_KINDS) - 1


@pytest.mark.parametrize("progress", [False, True], ids=["no_progress_token", "progress_token"])
def test_predict_returns_the_model_input(mcp_app: RunningApp, digits, progress: bool) -> None:
    images, labels = digits
    url = data_url(encode(Image.fromarray(images[0])), "image/png")
    result = call(mcp_url(mcp_app), "predict", {"image": url}, progress=progress)
    assert label_of(result)["label"] == str(labels[0])  # and the label, image, URL shape
    preview = Image.open(io.BytesIO(base64.b64decode(result.content[1].data)))
    assert preview.size == (140, 140)
    assert result.content[2].text.startswith(f"Image URL: {mcp_app.url}gradio_api/file=")


def test_predict_blank_image(mcp_app: RunningApp) -> None:
    url = data_url(encode(Image.new("RGB", (800, 800), "white")), "image/png")
    assert label_of(call(mcp_url(mcp_app), "predict", {"image": url})) == {"label": BLANK_MESSAGE, "confidences": None}


def drawn_layer(digit: np.ndarray) -> Image.Image:
    """A Sketchpad layer holding `digit` (MNIST: white on black) in black ink: transparent elsewhere."""
    ink = Image.fromarray(digit).resize((400, 400), Image.Resampling.BICUBIC)
    layer = Image.new("RGBA", (800, 800), (0, 0, 0, 0))
    layer.paste(Image.merge("RGBA", (*Image.new("RGB", ink.size).split(), ink)), (200, 200))
    return layer


def test_predict_sketch_reads_a_composite(mcp_app: RunningApp, digits) -> None:
    images, labels = digits
    canvas = Image.new("RGBA", (800, 800), "white")
    canvas.alpha_composite(drawn_layer(images[1]))
    sketch = {"background": None, "layers": [], "composite": data_url(encode(canvas), "image/png")}
    assert label_of(call(mcp_url(mcp_app), "predict_sketch", {"sketch": sketch}))["label"] == str(labels[1])


def test_predict_sketch_reads_layers_over_a_background(mcp_app: RunningApp, digits) -> None:
    images, labels = digits
    white = data_url(encode(Image.new("RGBA", (800, 800), "white")), "image/png")
    sketch = {"background": white, "layers": [data_url(encode(drawn_layer(images[2])), "image/png")],
              "composite": None}
    assert label_of(call(mcp_url(mcp_app), "predict_sketch", {"sketch": sketch}))["label"] == str(labels[2])


def test_predict_sketch_blank_canvas(mcp_app: RunningApp) -> None:
    white = data_url(encode(Image.new("RGBA", (800, 800), "white")), "image/png")
    sketch = {"background": None, "layers": [], "composite": white}
    assert label_of(call(mcp_url(mcp_app), "predict_sketch", {"sketch": sketch}))["label"] == BLANK_MESSAGE


def test_unreadable_file_is_an_error(mcp_app: RunningApp) -> None:
    result = call(mcp_url(mcp_app), "predict", {"image": data_url(b"not an image", "image/png")})
    assert result.isError


def test_no_mcp_without_the_flag(env_for_subprocess: dict[str, str], tmp_path: Path) -> None:
    with running_app(["--workers", "0"], app_env(env_for_subprocess), tmp_path / "app.log") as running:
        for path in (MCP_PATH, MCP_PATH.rstrip("/"), MCP_PATH + "schema", MCP_PATH + "sse"):
            request = urllib.request.Request(running.url + path, headers={"Accept": "text/event-stream"})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=10)
            assert refused.value.code == 404, path
        assert "MCP" not in running.log.read_text()


@pytest.mark.parametrize(("value", "on"), [("true", True), ("True", True), ("1", True), ("YES", True),
                                           ("false", False), ("0", False), ("", False), (None, False)])
def test_flag_default_follows_the_environment(monkeypatch: pytest.MonkeyPatch, value: str | None, on: bool) -> None:
    if value is None:
        monkeypatch.delenv(MCP_ENV, raising=False)
    else:
        monkeypatch.setenv(MCP_ENV, value)
    assert app_module.parse_args([]).mcp is on
    assert app_module.parse_args(["--mcp"]).mcp is True


def test_serve_passes_mcp_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off means off even with GRADIO_MCP_SERVER=true, which Gradio reads when mcp_server is None."""
    monkeypatch.setenv(MCP_ENV, "true")
    launched: list[dict[str, Any]] = []

    class Demo:
        def launch(self, **kwargs: Any) -> None:
            launched.append(kwargs)

    serving.serve(Demo(), "127.0.0.1", 0)  # type: ignore[arg-type]
    serving.serve(Demo(), "127.0.0.1", 0, mcp=True)  # type: ignore[arg-type]
    assert [kwargs["mcp_server"] for kwargs in launched] == [False, True]


def number_picture(images: np.ndarray) -> Image.Image:
    """MNIST digits written side by side, black on white."""
    canvas = Image.new("RGB", (900, 450), "white")
    for i, digit in enumerate(images):
        canvas.paste(Image.fromarray(255 - digit).resize((200, 200)).convert("RGB"), (40 + i * 210, 120))
    return canvas


def test_read_number_reads_each_digit(mcp_app: RunningApp, digits) -> None:
    images, labels = digits
    url = data_url(encode(number_picture(images[:3])), "image/png")
    result = call(mcp_url(mcp_app), "read_number", {"image": url})
    assert not result.isError, result.content
    texts = [item.text for item in result.content if item.type == "text"]
    assert texts[0] == "".join(map(str, labels[:3])), texts
    details = ast.literal_eval(texts[1])
    assert [d["digit"] for d in details] == list(texts[0]) and all(len(d["top"]) == 3 for d in details)


def test_read_number_sketch_of_a_blank_canvas_is_empty(mcp_app: RunningApp) -> None:
    white = data_url(encode(Image.new("RGBA", (900, 450), "white")), "image/png")
    result = call(mcp_url(mcp_app), "read_number_sketch", {"sketch": {"background": None, "layers": [], "composite": white}})
    assert not result.isError, result.content
    assert [item.text for item in result.content if item.type == "text"][:2] in (["", "[]"], ["[]"]), result.content


def test_an_assistant_writes_a_number_as_strokes(mcp_app: RunningApp) -> None:
    strokes = [stroke for i, digit in enumerate("42") for stroke in pen.place(pen.DIGITS[digit], 80 + i * 300, 60, 300)]
    result = call(mcp_url(mcp_app), "read_strokes", {"strokes": json.dumps({"width": 900, "height": 450, "strokes": strokes})})
    assert not result.isError, result.content
    assert [item.text for item in result.content if item.type == "text"][0] == "42"
    result = call(mcp_url(mcp_app), "predict_strokes", {"strokes": '{"width": 900'})
    assert result.isError and "not valid JSON" in str(result.content)
