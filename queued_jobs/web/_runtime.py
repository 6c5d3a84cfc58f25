"""What one web app holds while it serves: its job client (opened at first use, so that an
app mounted in another, whose lifespan events it never gets, works too), its event hub,
and how it authenticates."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import Request

from ..app import JobApp
from ..client import JobClient
from .auth import Principal
from .events.hub import ChangeHub
from .settings import WebSettings

if TYPE_CHECKING:
    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

    from .webpubsub import WebPubSub

__all__ = ["Authenticating", "Runtime", "principal_of", "runtime_of"]


class Authenticating(Protocol):
    """What the app needs of its authentication: a principal for each request."""

    @property
    def development(self) -> bool: ...

    @property
    def challenge(self) -> str: ...

    async def principal(self, headers: Mapping[str, str]) -> Principal: ...


class Runtime:
    def __init__(
        self,
        app: JobApp,
        auth: Authenticating,
        settings: WebSettings,
        webpubsub: WebPubSub | None = None,
    ) -> None:
        self.app = app
        self.auth = auth
        self.settings = settings
        self.webpubsub = webpubsub
        self._pubsub_client: WebPubSubServiceClient | None = None
        self._client: JobClient | None = None
        self._hub: ChangeHub | None = None
        self._opening = asyncio.Lock()
        #: ``/stats`` and ``/stats/timeline`` answers reused for a few seconds, by route
        #: and filters.
        self.stats_cache: dict[tuple[str | None, ...], tuple[float, Any]] = {}

    async def client(self) -> JobClient:
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    self._client = self.app.client()
        return self._client

    async def hub(self) -> ChangeHub:
        if self._hub is None:
            client = await self.client()
            async with self._opening:
                if self._hub is None:
                    self._hub = ChangeHub(client.repository, self.settings)
        return self._hub

    async def pubsub_client(self) -> WebPubSubServiceClient:
        assert self.webpubsub is not None  # the route checks
        if self._pubsub_client is None:
            self._pubsub_client = self.webpubsub.client()
        return self._pubsub_client

    async def close(self) -> None:
        hub, client, pubsub = self._hub, self._client, self._pubsub_client
        self._hub = self._client = self._pubsub_client = None
        if hub is not None:
            await hub.close()
        if client is not None:
            await client.close()
        if pubsub is not None:
            await pubsub.close()


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def principal_of(request: Request) -> Principal:
    """The FastAPI dependency of every route: the caller, or ``NotAuthenticated``."""
    principal = await runtime_of(request).auth.principal(request.headers)
    request.state.principal = principal
    return principal
