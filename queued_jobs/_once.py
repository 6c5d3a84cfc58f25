"""A value read from storage by its first caller and kept: callers that arrive while it is
being read wait for that read rather than making their own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["LoadedOnce"]

T = TypeVar("T")


class LoadedOnce(Generic[T]):
    """``await once.get()``: ``load()``'s result, loaded at most once at a time and kept
    once loaded. A load that fails is not kept: the next caller tries again. A caller that
    is cancelled while it waits does not cancel the load the others wait for."""

    def __init__(self, load: Callable[[], Awaitable[T]]) -> None:
        self._load = load
        self._loaded: tuple[T] | None = None
        self._loading: asyncio.Task[T] | None = None

    async def get(self) -> T:
        if self._loaded is not None:
            return self._loaded[0]
        loop = asyncio.get_running_loop()
        loading = self._loading
        if loading is None or loading.get_loop() is not loop:  # none yet, or another loop's
            loading = self._loading = loop.create_task(self._loaded_now())
        return await asyncio.shield(loading)

    async def _loaded_now(self) -> T:
        try:
            value = await self._load()
        finally:
            self._loading = None
        self._loaded = (value,)
        return value
