"""A stand-in for Azure Web PubSub (there is no emulator): the REST call that sends to a
group, checked against the hub's access key, and the client WebSocket endpoint, which joins
each connection to the groups its token names and passes it what is sent to them. It runs
in a thread of its own, so that synchronous tests (the browser's) can use it."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import WSMsgType, web

from tests.support.azurite import free_ports

__all__ = ["PubSubStandIn", "pubsub_stand_in"]


@dataclass
class PubSubStandIn:
    key: str
    hub: str = "jobs"
    endpoint: str = ""
    #: (group, message) of every send.
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    unsigned: int = 0
    connections: int = 0
    _groups: dict[str, set[web.WebSocketResponse]] = field(default_factory=dict)

    @property
    def connection_string(self) -> str:
        return f"Endpoint={self.endpoint};AccessKey={self.key};Version=1.0;"

    async def send(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            jwt.decode(token, self.key, algorithms=["HS256"], audience=str(request.url))
        except jwt.PyJWTError:
            self.unsigned += 1
            return web.Response(status=401)
        group = request.match_info["group"]
        message = await request.json()
        self.sent.append((group, message))
        for socket in list(self._groups.get(group, ())):
            await socket.send_str(json.dumps(message))
        return web.Response(status=202)

    async def client(self, request: web.Request) -> web.StreamResponse:
        try:
            claims = jwt.decode(
                request.query.get("access_token", ""),
                self.key,
                algorithms=["HS256"],
                options={"verify_aud": False},
            )
        except jwt.PyJWTError:
            return web.Response(status=401)
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        groups = claims.get("webpubsub.group", [])
        for group in [groups] if isinstance(groups, str) else groups:
            self._groups.setdefault(group, set()).add(socket)
        self.connections += 1
        async for message in socket:
            if message.type == WSMsgType.ERROR:
                break
        for members in self._groups.values():
            members.discard(socket)
        return socket


@contextmanager
def pubsub_stand_in() -> Iterator[PubSubStandIn]:
    """The stand-in, serving on a free local port until the block ends."""
    stand_in = PubSubStandIn(base64.b64encode(secrets.token_bytes(32)).decode())
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Event | None = None

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        server = web.Application()
        server.router.add_post(f"/api/hubs/{stand_in.hub}/groups/{{group}}/:send", stand_in.send)
        server.router.add_get(f"/client/hubs/{stand_in.hub}", stand_in.client)
        runner = web.AppRunner(server, shutdown_timeout=1)
        await runner.setup()
        [port] = free_ports(1)
        await web.TCPSite(runner, "127.0.0.1", port).start()
        stand_in.endpoint = f"http://127.0.0.1:{port}"
        ready.set()
        await stop.wait()
        await runner.cleanup()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    if not ready.wait(30):
        raise AssertionError("the Web PubSub stand-in did not start")
    try:
        yield stand_in
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
