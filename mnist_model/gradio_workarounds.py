"""Every piece of the app that depends on Gradio's internals or works around a Gradio behaviour.

Each is checked on Gradio `GRADIO_CHECKED`, and `tests/test_gradio_workarounds.py` checks on the
installed Gradio that each is still needed and still works. `apply()`, called once by `app.main`,
installs the process-wide pieces and warns at start-up when another Gradio is installed.

- `ImageFile`, `SketchFiles`: Gradio opens every image with PIL before the app's function runs, so
  a broken file fails with an opaque error and a decompression bomb is decoded before
  `mnist_model.preprocess` can refuse it; these hand the files on undecoded.
- `SketchData`: Gradio's validation of a Sketchpad value fails with an opaque error, and passes a
  dict with none of the Sketchpad's keys as a blank canvas.
- `path_or_inline_bytes`: Gradio decodes a file inlined as a `data:` URL itself, past its upload cap.
- `delete_old_cache_files`: Gradio's cache sweep dies under concurrent traffic and leaves each
  cached file's folder behind.
- `PAGE_JS`: a `gr.Label` that returns every class to API callers shows them all on the page;
  this script's style shows three, and the blank answer as a quiet hint rather than a heading.
- `MCPServer`: Gradio's MCP server cannot call a tool that takes a Sketchpad value (its schema's
  `$ref`s point nowhere, its nested files stay strings), and without a progress token it answers
  a tool with several outputs as one text item.

Of the package, only the app's modules import this one (`app.py`, and the tests and benchmarks
that serve its page): training never needs gradio.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import time
from typing import Any

import gradio as gr
import gradio.mcp
from gradio import route_utils
from gradio.components.image_editor import EditorData
from gradio.data_classes import FileData, ImageData
from pydantic import ValidationError

from .serving import MAX_FILE_BYTES, MAX_FILE_SIZE

GRADIO_CHECKED = "6.31.0"  # the Gradio that every workaround here is checked on
SKETCH_VALUE_HELP = (
    "A Sketchpad value is a dict with 'background' and 'composite' (image files or None) and "
    "'layers' (a list of image files)."
)

logger = logging.getLogger(__name__)

# Run on page load (`demo.load(None, js=PAGE_JS)`). It relies on the frontend's markup: a Label's
# rows are `button.confidence-set`, its text `.output-class`; the browser tests fail if that changes.
PAGE_JS = r"""
() => {
  const style = document.createElement("style");
  style.textContent = `
    .answer button.confidence-set:nth-of-type(n+4) { display: none; }
    .answer .container:not(:has(.confidence-set)) .output-class {
      font-size: var(--text-lg); font-weight: normal; color: var(--body-text-color-subdued);
    }`;
  document.head.appendChild(style);
}
"""
# A Label with this class shows its first three rows, and its text as a quiet hint when it holds
# no classes (the blank answer).
ANSWER_CLASS = "answer"


def apply() -> None:
    """Replace Gradio's cache sweep with `delete_old_cache_files` and its MCP server with
    `MCPServer`, for every `gr.Blocks` in this process, and log one warning if the installed
    Gradio is not `GRADIO_CHECKED`.

    Process-wide, so the app's entry point calls it once; anything else that serves
    `app.build_demo` under traffic calls it too.
    """
    installed = gr.__version__
    if installed != GRADIO_CHECKED:
        logger.warning(
            "Warning: Gradio %s is installed, but the app's Gradio workarounds "
            "(mnist_model/gradio_workarounds.py) were checked on Gradio %s; "
            "run tests/test_gradio_workarounds.py to see which still hold.", installed, GRADIO_CHECKED,
        )
    # Gradio's scheduled sweep and its shutdown sweep look this name up in route_utils at each call.
    route_utils.delete_files_created_by_app = delete_old_cache_files
    # `launch(mcp_server=True)` builds its server as `gradio.mcp.GradioMCPServer(blocks)`.
    gradio.mcp.GradioMCPServer = MCPServer


def path_or_inline_bytes(data: FileData | ImageData) -> str | bytes | None:
    """The cached file's path, or the bytes of a file sent inline as a `data:` URL.

    API callers may inline a file in the request's JSON instead of uploading it; Gradio then
    decodes it itself, past its upload size cap and past `mnist_model.preprocess`'s pixel cap.
    """
    url = data.url or ""
    if not url.startswith("data:"):
        return data.path
    encoded = url.partition(",")[2]
    if len(encoded) // 4 * 3 > MAX_FILE_BYTES:
        raise gr.Error(f"The file is larger than the {MAX_FILE_SIZE} limit.", print_exception=False)
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise gr.Error("The file's data: URL does not hold valid base64.", print_exception=False) from None


class ImageFile(gr.Image):
    """`gr.Image` that hands the uploaded file to our code undecoded.

    `gr.Image` opens every upload with PIL before the function runs, so a broken file fails there
    with an opaque "the app raised an exception". Passing the path on lets `mnist_model.preprocess`
    decode it and answer bad input with one clear sentence.
    """

    is_template = True  # Gradio then names the frontend component after the parent: a plain Image

    def preprocess(self, payload: ImageData | None) -> str | bytes | None:
        return None if payload is None else path_or_inline_bytes(payload)


class SketchData(EditorData):
    """`EditorData` whose malformed values, from API callers, fail with one clear sentence.

    Gradio validates the value before any function runs: a pydantic `ValidationError` there
    reaches the caller as an opaque "the app raised an exception", and a dict with none of the
    Sketchpad's keys passes as an empty sketch, so a wrongly built call looks like a blank canvas.
    """

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> SketchData:
        # the browser sends only an "id" for a drawing it has uploaded as blobs
        if not isinstance(obj, dict) or not {"background", "layers", "composite", "id"} & obj.keys():
            raise gr.Error(SKETCH_VALUE_HELP, print_exception=False)
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as error:
            field = ".".join(map(str, error.errors()[0]["loc"]))
            message = f"The Sketchpad value's '{field}' is not valid. {SKETCH_VALUE_HELP}"
            raise gr.Error(message, print_exception=False) from None


class SketchFiles(gr.Sketchpad):
    """`gr.Sketchpad` that checks the value (`SketchData`) and hands its files on undecoded.

    `gr.Sketchpad` opens every part of the value with PIL before the function runs, so a broken
    file fails there with an opaque error, and a decompression bomb is decoded before
    `mnist_model.preprocess` can refuse it. Passing paths (or the browser's PNG bytes) on gives
    drawings the same checks and the same clear errors as uploads.
    """

    data_model = SketchData

    def get_block_name(self) -> str:
        # gr.Sketchpad is a template of ImageEditor: Gradio's rule would name our subclass's
        # frontend component after gr.Sketchpad, which the frontend does not have
        return "imageeditor"

    def preprocess(self, payload: EditorData | None) -> dict | None:
        if payload is None:
            return None
        # a browser drawing arrives as blobs, which Gradio's `accept_blobs` keeps per drawing id
        blobs = self.blob_storage.pop(payload.id, None) if payload.id else None
        if blobs is not None:
            layers = [layer for layer in blobs.layers if layer is not None]
            return {"background": blobs.background, "layers": layers, "composite": blobs.composite}
        return {
            "background": path_or_inline_bytes(payload.background) if payload.background else None,
            "layers": [path_or_inline_bytes(layer) for layer in payload.layers],
            "composite": path_or_inline_bytes(payload.composite) if payload.composite else None,
        }


def delete_old_cache_files(blocks: gr.Blocks, age: int | None) -> None:
    """Gradio's cache sweep (`route_utils.delete_files_created_by_app`), over copies of its sets.

    Gradio iterates over the live sets of cached files while requests add to them, so under
    traffic its sweep soon dies of "Set changed size during iteration" and never runs again: files,
    and the sets' entries in memory, then pile up for good (`python -m benchmarks.load soak`).
    Each file lives in a folder named by its hash, which Gradio leaves behind, a disk block per
    request: the folder goes too once empty (a request that caches the very same bytes there in
    that microsecond fails: a far smaller risk than a disk that fills up).
    """
    keep = set().union(*(getattr(block, "keep_in_cache", ()) for block in blocks.blocks.values()))
    for files in blocks.temp_file_sets:
        gone = set()
        for path in files.copy():  # one C call under the GIL: requests add to `files` meanwhile
            try:
                if path not in keep and (age is None or time.time() - os.lstat(path).st_ctime > age):
                    os.remove(path)
                    gone.add(path)
                    os.rmdir(os.path.dirname(path))
            except FileNotFoundError:
                gone.add(path)
            except OSError:  # a folder that holds another file
                pass
        files -= gone


SchemaPosition = list[str | int]  # keys and list indices into a JSON value or a JSON schema
_SCHEMA_CHOICES = ("anyOf", "oneOf", "allOf")  # the index after one of these picks a subschema


class MCPServer(gradio.mcp.GradioMCPServer):
    """Gradio's MCP server, able to call a tool that takes a Sketchpad value, answering in one shape.

    - A Sketchpad parameter's schema keeps its `$defs` under the parameter while its `$ref`s point
      at the root (`#/$defs/FileData`); the `mcp` package validates each call against the schema
      and fails (PointerToNowhere). The definitions move to the root.
    - Gradio records a file's place in the schema with schema words in it (`anyOf`, 0; `items`),
      so a file nested in a dict (a Sketchpad's composite, its layers) never matches the call's
      data and reaches the app as a plain string. The call's own places that match are added.
    - A call without a progress token (what most clients send) gets one text item holding the
      repr of all the outputs; with a token, one item per output (an image as an image). Both
      get the second.
    """

    def get_input_schema(
        self, tool_name: str, parameters: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], list[SchemaPosition]]:
        schema, positions = super().get_input_schema(tool_name, parameters)
        definitions: dict[str, Any] = {}
        _pop_definitions(schema, definitions)
        if definitions:
            schema["$defs"] = definitions
        return schema, positions

    def convert_strings_to_filedata(self, value: Any, filedata_positions: list[SchemaPosition]) -> Any:
        patterns = [pattern for pattern in map(_value_pattern, filedata_positions) if pattern is not None]
        nested = [path for path in _string_paths(value, []) if path not in filedata_positions
                  and any(_matches(path, pattern) for pattern in patterns)]
        return super().convert_strings_to_filedata(value, [*filedata_positions, *nested])

    async def _execute_tool_without_progress(self, job: Any) -> list[Any]:
        (result,) = await super()._execute_tool_without_progress(job)
        # gradio_client returns a tuple for an event with several outputs, the value for one
        return list(result) if isinstance(result, tuple) else [result]


def _pop_definitions(node: Any, definitions: dict[str, Any]) -> None:
    """Move every `$defs` found under `node` into `definitions`."""
    if isinstance(node, dict):
        definitions.update(node.pop("$defs", None) or {})
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return
    for child in children:
        _pop_definitions(child, definitions)


def _value_pattern(position: SchemaPosition) -> SchemaPosition | None:
    """Where a file's place in the schema is in a call's value ("*": any list index); None for a
    place inside `$defs`, which no value has."""
    if "$defs" in position:
        return None
    pattern: SchemaPosition = []
    choice = False
    for part in position:
        if choice:
            choice = False
        elif part in _SCHEMA_CHOICES:
            choice = True
        else:
            pattern.append("*" if part == "items" else part)
    return pattern


def _matches(path: SchemaPosition, pattern: SchemaPosition) -> bool:
    return len(path) == len(pattern) and all(
        part == want or (want == "*" and isinstance(part, int)) for part, want in zip(path, pattern))


def _string_paths(node: Any, path: SchemaPosition) -> list[SchemaPosition]:
    """The place of every string in a call's value."""
    if isinstance(node, dict):
        return [found for key, child in node.items() for found in _string_paths(child, [*path, key])]
    if isinstance(node, list):
        return [found for index, child in enumerate(node) for found in _string_paths(child, [*path, index])]
    return [path] if isinstance(node, str) else []
