"""A small HTTP server in the test's own event loop, standing in for an endpoint the code
calls (a webhook receiver, a service's REST API)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from aiohttp import web

from tests.support.azurite import free_ports

__all__ = ["Handler", "serving"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving(*routes: tuple[str, Handler]) -> AsyncIterator[str]:
    """Serve POSTs to each ``(path, handler)`` on a free local port; yields the base URL."""
    server = web.Application()
    for path, handler in routes:
        server.router.add_post(path, handler)
    runner = web.AppRunner(server)
    await runner.setup()
    [port] = free_ports(1)
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
