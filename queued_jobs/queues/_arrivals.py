"""Arrival hints inside one process: a sender rings, every listener's wait returns."""

from __future__ import annotations

import asyncio

__all__ = ["ArrivalHub"]


class ArrivalHub:
    """The listeners of one in-process broker (each used from one event loop)."""

    def __init__(self) -> None:
        self._listeners: set[_Listener] = set()

    def ring(self) -> None:
        for listener in self._listeners:
            listener.ring()

    def listen(self) -> _Listener:
        listener = _Listener(self)
        self._listeners.add(listener)
        return listener

    def _forget(self, listener: _Listener) -> None:
        self._listeners.discard(listener)


class _Listener:
    def __init__(self, hub: ArrivalHub) -> None:
        self._hub = hub
        self._rung = asyncio.Event()

    def ring(self) -> None:
        self._rung.set()

    async def wait(self) -> None:
        await self._rung.wait()
        self._rung.clear()

    def close(self) -> None:
        self._hub._forget(self)
