"""Running suspects alone: a job taken over from a worker that died may be what killed it.

A worker that hands its pipeline an :class:`Isolation` runs such a job (a *suspect*) with
no other job beside it: the suspect waits until the jobs running beside it have ended, and
no job starts while it waits or runs; suspects take turns. If the suspect then kills its
worker too, nothing else was there to blame, and its abandoned attempt is charged
(``Attempt.alone``). Jobs that wait keep their queue messages renewed (every heartbeat),
so no other worker takes them meanwhile.

Waits are bounded: a suspect waits at most ``patience`` for ordinary jobs to end (a job
may run for hours), then runs beside them, unproven (its abandon is then not charged,
within ``ExecutionSettings.uncharged_abandons``). Jobs waiting behind a suspect that runs
alone wait for it: its own limits (``max_run_time``) bound that. On stop (``closing``) or
halt, every waiting job gives up at once (:class:`Halted`) and its message is handed back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

__all__ = ["Halted", "Isolation", "Renew"]

Renew = Callable[[], Awaitable[None]]
#: How often a waiting job looks whether its worker is stopping.
_TICK = 0.25


class Halted(Exception):
    """The worker stopped while the job waited for its turn: it never started (an internal
    signal, caught by the pipeline)."""


class Isolation:
    """Who may run beside whom in one worker process (one per worker, on its loop)."""

    def __init__(
        self,
        renew_every: timedelta,
        *,
        patience: timedelta,
        closing: asyncio.Event | None = None,
    ) -> None:
        """``renew_every``: how often waiting jobs renew their message; ``patience``: how
        long a suspect waits for ordinary jobs to end; once ``closing`` is set (the worker
        stops), jobs that wait give up (:class:`Halted`)."""
        self._renew_every = renew_every.total_seconds()
        self._patience = patience.total_seconds()
        self._closing = closing
        self._changed = asyncio.Condition()
        self._beside = 0  # jobs running beside others (ordinary ones, impatient suspects)
        self._suspects_waiting = 0
        self._alone = False  # a suspect runs alone

    @property
    def engaged(self) -> bool:
        """A suspect runs or waits to: the worker should start (and fetch) nothing new."""
        return self._alone or self._suspects_waiting > 0

    @asynccontextmanager
    async def beside(
        self, renew: Renew | None, halt: asyncio.Event | None = None
    ) -> AsyncIterator[None]:
        """Run an ordinary job: once no suspect runs or waits. Raises :class:`Halted` if
        the worker halts or stops first."""
        await self._until(lambda: not self.engaged, renew, halt)
        self._beside += 1
        try:
            yield
        finally:
            await self._leave(self._leave_beside)

    @asynccontextmanager
    async def alone(
        self, renew: Renew | None, halt: asyncio.Event | None = None
    ) -> AsyncIterator[bool]:
        """Run a suspect: once nothing else runs, one suspect at a time; yields whether it
        runs alone (``False``: it waited ``patience`` for ordinary jobs, and runs beside
        them). Raises :class:`Halted` if the worker halts or stops first."""
        self._suspects_waiting += 1
        loop = asyncio.get_running_loop()
        impatient_at = loop.time() + self._patience

        def turn() -> bool:
            return not self._alone and (self._beside == 0 or loop.time() >= impatient_at)

        try:
            await self._until(turn, renew, halt)
            alone = self._beside == 0
            if alone:
                self._alone = True
            else:
                self._beside += 1
        finally:
            self._suspects_waiting -= 1
            await self._leave(lambda: None)  # ordinary jobs may go again if none waits
        try:
            yield alone
        finally:
            await self._leave(self._leave_alone if alone else self._leave_beside)

    def _leave_beside(self) -> None:
        self._beside -= 1

    def _leave_alone(self) -> None:
        self._alone = False

    async def _until(
        self, ready: Callable[[], bool], renew: Renew | None, halt: asyncio.Event | None
    ) -> None:
        """Wait until ``ready()``, renewing the message every ``renew_every`` meanwhile.
        Returns with no await after the check, so the caller takes its place at once."""
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + self._renew_every
        while True:
            if any(event is not None and event.is_set() for event in (halt, self._closing)):
                raise Halted
            if ready():
                return
            if renew is not None and loop.time() >= renew_at:
                await renew()
                renew_at = loop.time() + self._renew_every
                continue  # the world may have changed during the renewal: look again
            try:
                async with asyncio.timeout(min(_TICK, self._renew_every)), self._changed:
                    await self._changed.wait()
            except TimeoutError:
                continue

    async def _leave(self, release: Callable[[], None]) -> None:
        async with self._changed:
            release()
            self._changed.notify_all()
