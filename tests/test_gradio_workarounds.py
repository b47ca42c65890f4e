"""Each piece of `mnist_model.gradio_workarounds`, checked against the installed Gradio.

For every workaround: Gradio's own behaviour still needs it (stock components decode and fail
opaquely, Gradio's sweep dies under concurrent adds), and the parts of Gradio it relies on are
still there and still work with it (the function it replaces, the blob store, the frontend's
component name, the validation hook, the MCP server's methods). Real Gradio objects throughout, driven through Gradio's
own preprocessing path where there is one. A failure here on a new Gradio says which workaround
to re-check, drop or fix before raising `GRADIO_CHECKED`.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import inspect
import io
import logging
import threading
import time
import uuid
from concurrent.futures import Future
from pathlib import Path

import gradio as gr
import gradio.mcp
import jsonschema
import pytest
import referencing.exceptions
from gradio import routes, route_utils
from gradio.blocks import Block, BlockFunction
from gradio.components.image_editor import AcceptBlobs, EditorData
from gradio.utils import error_payload
from gradio_client.client import Job
from PIL import Image
from pydantic import ValidationError

from mnist_model import gradio_workarounds
from mnist_model.gradio_workarounds import (
    GRADIO_CHECKED,
    SKETCH_VALUE_HELP,
    ImageFile,
    MCPServer,
    SketchData,
    SketchFiles,
    delete_old_cache_files,
)
from mnist_model.serving import MAX_FILE_BYTES, MAX_FILE_SIZE

GRADIOS_SWEEP = route_utils.delete_files_created_by_app  # Gradio's own, as imported
GRADIOS_MCP_SERVER = gradio.mcp.GradioMCPServer
FRONTEND_ASSETS = Path(gr.__file__).parent / "templates" / "frontend" / "assets"
FILE = {"meta": {"_type": "gradio.FileData"}}


def png_bytes(size: tuple[int, int] = (28, 28)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, "white").save(buffer, format="PNG")
    return buffer.getvalue()


def preprocess_through_gradio(component: gr.components.Component, value: object) -> object:
    """`value` as Gradio hands it to an event function of `component`: cached, validated by its
    data model, preprocessed (`Blocks.preprocess_data`, the path every request takes)."""
    with gr.Blocks(analytics_enabled=False) as demo:
        component.render()
        component.change(lambda x: x, component, None)
    block_fn: BlockFunction = next(iter(demo.fns.values()))
    return asyncio.run(demo.preprocess_data(block_fn, [value], None, explicit_call=True))[0]


def shown_to_api_callers(error: BaseException) -> str | None:
    """The message an API caller gets for `error` from an app without `show_error` (this one)."""
    return error_payload(error, show_error=False)["error"]


@pytest.fixture
def broken_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.png"
    path.write_text("this is not an image")
    return path


@pytest.fixture
def undo_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo `apply()`'s process-wide replacements after the test."""
    monkeypatch.setattr(route_utils, "delete_files_created_by_app", route_utils.delete_files_created_by_app)
    monkeypatch.setattr(gradio.mcp, "GradioMCPServer", gradio.mcp.GradioMCPServer)


# --------------------------------------------------------------------------------------------
# The version they are checked on


def test_apply_is_silent_on_the_checked_gradio_and_warns_on_any_other(
    undo_apply: None, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger=gradio_workarounds.__name__):
        gradio_workarounds.apply()
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    if gr.__version__ == GRADIO_CHECKED:
        assert warnings == []
    else:  # the app says so at start-up; the checks below say which workaround needs work
        assert len(warnings) == 1 and gr.__version__ in warnings[0].getMessage()


def test_apply_names_both_versions_in_one_line_on_another_gradio(
    undo_apply: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(gr, "__version__", "99.1.0")
    with caplog.at_level(logging.WARNING, logger=gradio_workarounds.__name__):
        gradio_workarounds.apply()
    [warning] = [record for record in caplog.records if record.levelno >= logging.WARNING]
    message = warning.getMessage()
    assert "Gradio 99.1.0 is installed" in message and f"checked on Gradio {GRADIO_CHECKED}" in message
    assert "\n" not in message
    assert route_utils.delete_files_created_by_app is delete_old_cache_files  # it still applies them
    assert gradio.mcp.GradioMCPServer is MCPServer


@pytest.mark.slow
def test_the_app_logs_no_version_warning_at_start_up(app) -> None:
    log = app.log.read_text()
    assert ("were checked on Gradio" in log) == (gr.__version__ != GRADIO_CHECKED), log


# --------------------------------------------------------------------------------------------
# The cache sweep


def cached_file(root: Path) -> str:
    """A file in a folder of its own, as Gradio caches each file under its hash."""
    folder = root / uuid.uuid4().hex
    folder.mkdir()
    path = folder / "image.webp"
    path.write_bytes(b"cached")
    return str(path)


def sweep_while_adding(sweep, root: Path, files: int = 300) -> tuple[gr.Blocks, set[str], BaseException | None]:
    """Run `sweep(demo, None)` over `files` cached files while another thread caches more, as
    requests do; (the demo, the component's set of cached files, what the sweep raised)."""
    with gr.Blocks(analytics_enabled=False) as demo:
        image = gr.Image()
    assert any(files is image.temp_files for files in demo.temp_file_sets)
    image.temp_files.update(cached_file(root) for _ in range(files))
    stop = threading.Event()

    def cache_more() -> None:
        while not stop.is_set():
            image.temp_files.add(cached_file(root))

    adder = threading.Thread(target=cache_more)
    adder.start()
    try:
        sweep(demo, None)
        raised = None
    except Exception as error:  # noqa: BLE001 - what Gradio's sweep dies of is the point
        raised = error
    finally:
        stop.set()
        adder.join()
    return demo, image.temp_files, raised


def test_gradios_sweep_is_the_function_ours_replaces() -> None:
    assert GRADIOS_SWEEP.__module__ == "gradio.route_utils"
    assert inspect.signature(GRADIOS_SWEEP).parameters.keys() == inspect.signature(delete_old_cache_files).parameters.keys()
    # the scheduled sweep and the shutdown sweep look the name up in route_utils at each call
    scheduled = route_utils.delete_files_on_schedule
    at_shutdown = inspect.unwrap(route_utils._lifespan_handler)
    for caller in (scheduled, at_shutdown):
        assert "delete_files_created_by_app" in caller.__code__.co_names, caller


def test_gradios_sweep_still_dies_under_concurrent_adds(tmp_path: Path) -> None:
    for _ in range(5):  # a few tries: a sweep that survives one by luck does not fail the test
        _, _, raised = sweep_while_adding(GRADIOS_SWEEP, tmp_path)
        if raised is not None:
            break
    assert isinstance(raised, RuntimeError) and "changed size during iteration" in str(raised), (
        "Gradio's own cache sweep survived concurrent adds: delete_old_cache_files may no longer be needed"
    )


def test_our_sweep_survives_concurrent_adds_and_leaves_no_folders(tmp_path: Path) -> None:
    _, files, raised = sweep_while_adding(delete_old_cache_files, tmp_path)
    assert raised is None
    on_disk = {str(path) for path in tmp_path.glob("*/*")}
    assert files == on_disk  # every file swept is forgotten, every file added meanwhile is kept
    folders = list(tmp_path.iterdir())
    assert len(folders) == len(on_disk)  # swept files' folders are gone


def test_our_sweep_keeps_young_files_and_those_gradio_keeps(tmp_path: Path) -> None:
    with gr.Blocks(analytics_enabled=False) as demo:
        image = gr.Image()
    young, kept = cached_file(tmp_path), cached_file(tmp_path)
    image.temp_files.update({young, kept})
    image.keep_in_cache.add(kept)
    delete_old_cache_files(demo, 3600)
    assert image.temp_files == {young, kept} and Path(young).exists()
    delete_old_cache_files(demo, None)
    assert image.temp_files == {kept} and Path(kept).exists() and not Path(young).parent.exists()


def test_a_served_demo_sweeps_with_ours_once_applied(undo_apply: None, tmp_path: Path) -> None:
    """Gradio's own scheduler runs the replacement (only ours removes the file's folder)."""
    gradio_workarounds.apply()
    with gr.Blocks(analytics_enabled=False, delete_cache=(1, 1)) as demo:
        image = gr.Image()
    path = cached_file(tmp_path)
    image.temp_files.add(path)
    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    try:
        deadline = time.monotonic() + 20
        while Path(path).parent.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        demo.close()
    assert not Path(path).parent.exists()


# --------------------------------------------------------------------------------------------
# Undecoded uploads


def test_stock_image_decodes_a_broken_file_and_fails_opaquely(broken_file: Path) -> None:
    with pytest.raises(Exception) as caught:
        preprocess_through_gradio(gr.Image(type="filepath", image_mode=None), {"path": str(broken_file), **FILE})
    assert "cannot identify image file" in str(caught.value)  # PIL opened it
    assert shown_to_api_callers(caught.value) is None  # the caller learns nothing


def test_image_file_hands_a_broken_file_on_undecoded(broken_file: Path) -> None:
    path = preprocess_through_gradio(ImageFile(type="filepath", image_mode=None), {"path": str(broken_file), **FILE})
    assert Path(path).read_bytes() == broken_file.read_bytes()  # Gradio's cached copy, for our decoder


def test_stock_image_decodes_inlined_files_itself() -> None:
    url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    path = preprocess_through_gradio(gr.Image(type="filepath", image_mode=None), {"url": url, **FILE})
    assert Path(path).is_file()  # decoded and written by Gradio, not by our checked decoder


def test_image_file_hands_inlined_files_on_as_bytes_within_the_cap() -> None:
    image = png_bytes()
    url = "data:image/png;base64," + base64.b64encode(image).decode()
    assert preprocess_through_gradio(ImageFile(type="filepath", image_mode=None), {"url": url, **FILE}) == image
    too_big = "data:image/png;base64," + "A" * (MAX_FILE_BYTES // 3 * 4 + 8)
    with pytest.raises(gr.Error) as caught:
        preprocess_through_gradio(ImageFile(type="filepath", image_mode=None), {"url": too_big, **FILE})
    assert shown_to_api_callers(caught.value) == f"The file is larger than the {MAX_FILE_SIZE} limit."


def test_image_file_renders_as_a_plain_image() -> None:
    assert ImageFile().get_block_name() == gr.Image().get_block_name() == "image"


# --------------------------------------------------------------------------------------------
# The Sketchpad


def frontend_components() -> str:
    """The frontend's bundle of component loaders, keyed by the names the server sends."""
    return "".join(path.read_text(errors="replace") for path in FRONTEND_ASSETS.glob("*.js"))


def test_sketch_files_names_the_frontend_component_stock_sketchpads_use() -> None:
    name = SketchFiles().get_block_name()
    assert name == gr.Sketchpad().get_block_name() == "imageeditor"
    assert f"{name}:{{" in frontend_components()
    gradios_rule = Block.get_block_name(SketchFiles())  # what it would be without our override
    assert gradios_rule != name and f"{gradios_rule}:{{" not in frontend_components()


def test_gradio_still_validates_sketches_with_the_components_data_model() -> None:
    for value in ({"backgrund": None}, {"composite": 5}, "a sketch"):
        with pytest.raises(gr.Error) as caught:
            preprocess_through_gradio(SketchFiles(type="filepath"), value)
        assert SKETCH_VALUE_HELP in shown_to_api_callers(caught.value)


def test_stock_validation_reads_a_wrong_dict_as_a_blank_canvas_and_fails_opaquely() -> None:
    assert EditorData.model_validate({"backgrund": None}) == EditorData()  # a blank canvas
    with pytest.raises(ValidationError) as caught:
        EditorData.model_validate({"composite": 5})
    assert shown_to_api_callers(caught.value) is None
    with pytest.raises(gr.Error, match="'composite' is not valid"):
        SketchData.model_validate({"composite": 5})


def blob(component: gr.ImageEditor, drawing: str, data: bytes) -> None:
    """What the browser does with a drawing: POST its composite to the component's `accept_blobs`."""
    component.accept_blobs(AcceptBlobs(data={"type": "composite", "index": None, "file": b"", "id": drawing},
                                       files=[("composite", data)]))


def test_a_browser_drawing_reaches_us_as_its_bytes_and_leaves_gradios_blob_store() -> None:
    sketch, drawing = SketchFiles(type="filepath"), uuid.uuid4().hex
    blob(sketch, drawing, png_bytes((800, 800)))
    assert drawing in sketch.blob_storage
    value = sketch.preprocess(EditorData(id=drawing))
    assert value == {"background": None, "layers": [], "composite": png_bytes((800, 800))}
    assert drawing not in sketch.blob_storage


def test_stock_sketchpad_decodes_a_broken_drawing_and_fails_opaquely() -> None:
    sketch, drawing = gr.Sketchpad(type="filepath"), uuid.uuid4().hex
    blob(sketch, drawing, b"not a png")
    with pytest.raises(Exception) as caught:
        sketch.preprocess(EditorData(id=drawing))
    assert shown_to_api_callers(caught.value) is None
    ours = SketchFiles(type="filepath")
    blob(ours, drawing, b"not a png")
    assert ours.preprocess(EditorData(id=drawing))["composite"] == b"not a png"  # for our decoder


# --------------------------------------------------------------------------------------------
# The MCP server


def predict_sketch(sketch: dict | None) -> tuple[str, str | None]:
    """Classify a drawing.

    Args:
        sketch: a Sketchpad value.
    """
    return "3", None


def predict(image: str | None) -> tuple[str, str | None]:
    """Classify a picture.

    Args:
        image: a picture.
    """
    return "3", image


def build_tools_demo() -> gr.Blocks:
    """The app's two tools in miniature: a Sketchpad and an Image in, a Label and an Image out."""
    with gr.Blocks(analytics_enabled=False) as demo:
        sketch, image, label = gr.Sketchpad(type="filepath"), gr.Image(type="filepath"), gr.Label()
        sketch.change(predict_sketch, sketch, [label, image], api_name="predict_sketch")
        image.change(predict, image, [label, image], api_name="predict")
    return demo


@pytest.fixture(scope="module")
def tools_demo() -> gr.Blocks:
    return build_tools_demo()


def mcp_servers(demo: gr.Blocks) -> tuple[gradio.mcp.GradioMCPServer, MCPServer]:
    """Gradio's MCP server for `demo` and ours, each built as `launch(mcp_server=True)` builds it."""
    return GRADIOS_MCP_SERVER(demo), MCPServer(demo)


def data_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def refs_and_defs(node: object, path: tuple = ()) -> tuple[set[str], list[tuple]]:
    """Every `$ref` in a schema, and the place of every `$defs`."""
    refs: set[str] = set()
    defs: list[tuple] = []
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        if key == "$ref":
            refs.add(child)
        if key == "$defs":
            defs.append(path)
        child_refs, child_defs = refs_and_defs(child, (*path, key))
        refs |= child_refs
        defs += child_defs
    return refs, defs


def sketch_call(data: bytes) -> dict:
    """A predict_sketch call's arguments, every file of the Sketchpad value a `data:` URL."""
    return {"sketch": {"background": data_url(data), "layers": [data_url(data), data_url(data)],
                       "composite": data_url(data), "id": None}}


def test_launch_builds_ours_once_applied(undo_apply: None) -> None:
    demo = build_tools_demo()
    gradio_workarounds.apply()
    routes.App.setup_mcp_server(demo, {}, mcp_server=True)  # what launch(mcp_server=True) runs
    assert type(demo.mcp_server_obj) is MCPServer


def test_stock_sketch_schema_refers_to_definitions_it_nests(tools_demo: gr.Blocks) -> None:
    stock, _ = mcp_servers(tools_demo)
    schema, _ = stock.get_input_schema("predict_sketch")
    refs, defs = refs_and_defs(schema)
    assert refs == {"#/$defs/FileData"} and defs == [("properties", "sketch")]  # not at the root
    # what the mcp package does with every call before the tool sees it
    with pytest.raises(referencing.exceptions.Unresolvable, match="PointerToNowhere"):
        jsonschema.validate(sketch_call(png_bytes()), schema)


def test_our_sketch_schema_holds_its_definitions_at_the_root(tools_demo: gr.Blocks) -> None:
    stock, ours = mcp_servers(tools_demo)
    schema, positions = ours.get_input_schema("predict_sketch", {"sketch": "a Sketchpad value."})
    refs, defs = refs_and_defs(schema)
    assert defs == [()] and all(ref.removeprefix("#/$defs/") in schema["$defs"] for ref in refs)
    assert schema["properties"]["sketch"]["description"] == "a Sketchpad value."
    assert positions == stock.get_input_schema("predict_sketch")[1]
    jsonschema.validate(sketch_call(png_bytes()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"sketch": {"composite": 5}}, schema)
    assert ours.get_input_schema("predict") == stock.get_input_schema("predict")  # no $defs: as it was


def is_cached_file(value: object, data: bytes) -> bool:
    return (isinstance(value, dict) and value.get("meta") == {"_type": "gradio.FileData"}
            and Path(value["path"]).read_bytes() == data)


def test_stock_conversion_leaves_a_sketchs_files_as_strings(tools_demo: gr.Blocks) -> None:
    stock, _ = mcp_servers(tools_demo)
    _, positions = stock.get_input_schema("predict_sketch")
    call = sketch_call(png_bytes())
    assert stock.convert_strings_to_filedata(call, positions) == call  # data: URLs, not files
    _, positions = stock.get_input_schema("predict")
    assert is_cached_file(stock.convert_strings_to_filedata({"image": data_url(png_bytes())}, positions)["image"],
                          png_bytes())  # a file that is a parameter itself is converted


def test_our_conversion_turns_a_sketchs_files_into_files(tools_demo: gr.Blocks) -> None:
    _, ours = mcp_servers(tools_demo)
    _, positions = ours.get_input_schema("predict_sketch")
    data = png_bytes()
    sketch = ours.convert_strings_to_filedata(sketch_call(data), positions)["sketch"]
    assert all(is_cached_file(sketch[key], data) for key in ("background", "composite"))
    assert len(sketch["layers"]) == 2 and all(is_cached_file(layer, data) for layer in sketch["layers"])
    assert sketch["id"] is None
    assert EditorData.model_validate(sketch).composite.path == sketch["composite"]["path"]  # what the app gets
    drawing = ours.convert_strings_to_filedata({"sketch": {"composite": None, "id": "abc"}}, positions)
    assert drawing == {"sketch": {"composite": None, "id": "abc"}}  # a string that is no file stays
    with pytest.raises(ValueError, match="provide a url"):  # a server path, as for a parameter itself
        ours.convert_strings_to_filedata({"sketch": {"layers": ["/etc/passwd"]}}, positions)
    _, positions = ours.get_input_schema("predict")
    assert is_cached_file(ours.convert_strings_to_filedata({"image": data_url(data)}, positions)["image"], data)


def finished_job(result: object) -> Job:
    """A `gradio_client` job that has finished with `result`, as the MCP server's client submits."""
    future: Future = Future()
    future.set_result(result)
    return Job(future, verbose=False)


def tool_result(server: gradio.mcp.GradioMCPServer, result: object) -> list[str]:
    """The content items' types and texts that a call without a progress token gets."""
    outputs = asyncio.run(server._execute_tool_without_progress(finished_job(result)))
    content = server.postprocess_output_data(outputs, "http://127.0.0.1:7860")
    return [item.text if item.type == "text" else item.type for item in content]


def test_stock_answer_without_progress_is_one_text_item(tools_demo: gr.Blocks, tmp_path: Path) -> None:
    stock, _ = mcp_servers(tools_demo)
    label = {"label": "3", "confidences": None}
    image = tmp_path / "preview.png"
    image.write_bytes(png_bytes())
    preview = {"path": str(image), "url": None, **FILE}
    # gradio_client's result for an event with two outputs: a tuple of both
    [text] = tool_result(stock, (label, preview))
    assert ast.literal_eval(text) == [label, preview]  # the image as its repr: a path on the server


def test_our_answer_without_progress_is_one_item_per_output(tools_demo: gr.Blocks, tmp_path: Path) -> None:
    _, ours = mcp_servers(tools_demo)
    label = {"label": "3", "confidences": None}
    image = tmp_path / "preview.png"
    image.write_bytes(png_bytes())
    preview = {"path": str(image), "url": None, **FILE}
    items = tool_result(ours, (label, preview))
    assert items[:2] == [repr(label), "image"] and items[2].startswith("Image URL: ")  # as with progress
    assert tool_result(ours, label) == [repr(label)]  # an event with one output
    assert tool_result(ours, ("3", "4")) == ["3", "4"]
