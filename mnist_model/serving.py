"""The app's server and its limits: uploaded files and every request body capped.

Gradio caps uploaded files (`max_file_size`), but reads the JSON of an API call whole whatever its
size; `serve` launches a demo with both capped. Files inlined in that JSON are capped where they
are read (`mnist_model.gradio_workarounds`, with all else that works around Gradio's behaviour).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from starlette.middleware import Middleware

MAX_FILE_BYTES = 10 * 1024 * 1024  # Gradio reads max_file_size="10mb" as 10 MiB
MAX_FILE_SIZE = "10mb"
# A request body may hold one file inlined as base64 (4/3 of its size) plus a little JSON.
MAX_BODY_BYTES = MAX_FILE_BYTES * 4 // 3 + 64 * 1024


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


def serve(demo: gr.Blocks, host: str, port: int, share: bool = False, mcp: bool = False) -> None:
    """Serve `demo` within the app's limits: file and request sizes capped.

    `mcp`: also serve its public API events as MCP tools at /gradio_api/mcp/ (Gradio prints that
    URL). Passed explicitly, so Gradio's own reading of $GRADIO_MCP_SERVER cannot turn it on.
    """
    demo.launch(server_name=host, server_port=port, share=share, max_file_size=MAX_FILE_SIZE,
                mcp_server=mcp, app_kwargs={"middleware": [Middleware(RequestBodyLimit)]})
