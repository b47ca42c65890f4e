"""The Gradio pieces the app needs beyond Gradio's defaults: safe inputs, a bounded server.

Gradio decodes every image before the app's function runs, applies its upload size cap to one
route only, and (in 6.31) loses its cache sweep under concurrent traffic. The components and
helpers here hand files to `mnist_model.preprocess` undecoded, so every input gets its checks and
its one-sentence errors; cap every request body; and keep the cache swept. Only `app.py` imports
this module: training never needs gradio.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from typing import Any

import gradio as gr
from gradio.components.image_editor import EditorData
from gradio.data_classes import FileData
from pydantic import ValidationError

MAX_FILE_BYTES = 10 * 1024 * 1024  # Gradio reads max_file_size="10mb" as 10 MiB
MAX_FILE_SIZE = "10mb"
# A request body may hold one file inlined as base64 (4/3 of its size) plus a little JSON.
MAX_BODY_BYTES = MAX_FILE_BYTES * 4 // 3 + 64 * 1024
SKETCH_VALUE_HELP = (
    "A Sketchpad value is a dict with 'background' and 'composite' (image files or None) and "
    "'layers' (a list of image files)."
)


def path_or_inline_bytes(data: FileData) -> str | bytes | None:
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

    is_template = True  # rendered by the frontend as a plain Image

    def preprocess(self, payload: FileData | None) -> str | bytes | None:
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
        return "imageeditor"  # the frontend component that draws gr.Sketchpad

    def preprocess(self, payload: EditorData | None) -> dict | None:
        if payload is None:
            return None
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

    Gradio 6.31 iterates over the live sets of cached files while requests add to them, so under
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


class RequestBodyLimit:
    """ASGI middleware: answer 413 to any request whose body exceeds `MAX_BODY_BYTES`.

    Gradio caps file uploads, but the JSON of an API call is read whole whatever its size. Declared
    lengths are refused before reading; chunked bodies are counted as they arrive.
    """

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if length.isdigit() and int(length) > self.limit:
            return await self._refuse(send)
        received = 0

        async def counting_receive() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = f"Request body larger than {self.limit} bytes.".encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass
