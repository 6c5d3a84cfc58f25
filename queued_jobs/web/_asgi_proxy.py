"""An ASGI app's answer as a Starlette response that streams it: what a host gives a
function that must return a response object (the Functions FastAPI extension)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Message, Scope

__all__ = ["streamed_answer"]


async def streamed_answer(app: ASGIApp, scope: Scope, request: Request) -> StreamingResponse:
    """Run ``app`` on ``request`` (with ``scope``) and return its answer as soon as its
    status and headers are known, its body streamed as ``app`` sends it. When the client
    goes, the body's iterator is closed and ``app`` cancelled."""
    started: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
    chunks: asyncio.Queue[bytes | None] = asyncio.Queue()

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.set_result(message)
        elif message["type"] == "http.response.body":
            if body := message.get("body", b""):
                await chunks.put(body)
            if not message.get("more_body", False):
                await chunks.put(None)

    async def run() -> None:
        try:
            await app(scope, request.receive, send)
        finally:
            await chunks.put(None)

    task = asyncio.create_task(run())
    pending: set[asyncio.Future[Any]] = {task, started}
    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    if not started.done():
        task.result()  # the app failed before answering: its error, raised here
        raise RuntimeError("the app ended without answering")
    start = started.result()

    async def body() -> AsyncIterator[bytes]:
        try:
            while (chunk := await chunks.get()) is not None:
                yield chunk
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    response = StreamingResponse(body(), status_code=start["status"])
    response.raw_headers = list(start.get("headers", []))
    return response
