"""Running suspects alone: a job taken over from a worker that died may be what killed it.

A worker that hands its pipeline an :class:`Isolation` runs such a job (a *suspect*) with
no other job beside it: the suspect waits until the jobs running beside it have ended, and
no job starts while it waits or runs. If the suspect then kills its worker too, nothing
else was there to blame, and its abandoned attempt is charged (``Attempt.alone``). Jobs
and suspects that wait keep their queue messages renewed (every heartbeat), so no other
worker takes them meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

__all__ = ["Halted", "Isolation", "Renew"]

Renew = Callable[[], Awaitable[None]]
#: How often a waiting job looks whether its worker is halting.
_TICK = 0.25


class Halted(Exception):
    """The worker halted while the job waited for its turn: it never started (an internal
    signal, caught by the pipeline)."""


class Isolation:
    """Who may run beside whom in one worker process (one per worker, on its loop)."""

    def __init__(self, renew_every: timedelta, *, closing: asyncio.Event | None = None) -> None:
        """``renew_every``: how often waiting jobs renew their message; once ``closing`` is
        set (the worker stops), jobs that wait give up (:class:`Halted`)."""
        self._renew_every = renew_every.total_seconds()
        self._closing = closing
        self._changed = asyncio.Condition()
        self._beside = 0  # jobs running under :meth:`beside`
        self._suspects_waiting = 0
        self._alone = False

    @property
    def engaged(self) -> bool:
        """A suspect runs or waits to: the worker should start (and fetch) nothing new."""
        return self._alone or self._suspects_waiting > 0

    @property
    def suspects_waiting(self) -> int:
        return self._suspects_waiting

    @asynccontextmanager
    async def beside(
        self, renew: Renew | None, halt: asyncio.Event | None = None
    ) -> AsyncIterator[None]:
        """Run an ordinary job: once no suspect runs or waits. Raises :class:`Halted` if
        ``halt`` is set first."""
        await self._until(lambda: not self.engaged, self._enter_beside, renew, halt)
        try:
            yield
        finally:
            await self._leave(self._leave_beside)

    @asynccontextmanager
    async def alone(
        self, renew: Renew | None, halt: asyncio.Event | None = None
    ) -> AsyncIterator[None]:
        """Run a suspect: once nothing else runs, one suspect at a time. Raises
        :class:`Halted` if ``halt`` is set first."""
        self._suspects_waiting += 1
        try:
            await self._until(self._nothing_runs, self._enter_alone, renew, halt)
        finally:
            self._suspects_waiting -= 1
            await self._leave(lambda: None)  # ordinary jobs may go again if none waits
        try:
            yield
        finally:
            await self._leave(self._leave_alone)

    def _nothing_runs(self) -> bool:
        return self._beside == 0 and not self._alone

    def _enter_beside(self) -> None:
        self._beside += 1

    def _leave_beside(self) -> None:
        self._beside -= 1

    def _enter_alone(self) -> None:
        self._alone = True

    def _leave_alone(self) -> None:
        self._alone = False

    async def _until(
        self,
        ready: Callable[[], bool],
        take: Callable[[], None],
        renew: Renew | None,
        halt: asyncio.Event | None,
    ) -> None:
        """Wait for ``ready`` and ``take`` the place, renewing the message meanwhile."""
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + self._renew_every
        while True:
            if any(event is not None and event.is_set() for event in (halt, self._closing)):
                raise Halted
            if renew is not None and loop.time() >= renew_at:
                await renew()
                renew_at = loop.time() + self._renew_every
            try:
                async with asyncio.timeout(min(_TICK, self._renew_every)), self._changed:
                    await self._changed.wait_for(ready)
                    take()
                    return
            except TimeoutError:
                continue

    async def _leave(self, release: Callable[[], None]) -> None:
        async with self._changed:
            release()
            self._changed.notify_all()
