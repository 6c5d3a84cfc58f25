"""The limits' sweep: parked jobs at gates whose places were given back by no one (their
holders died; an operator raised the capacity) are woken by it.

A pass reads the gates with parked jobs (``LimitStore.list_gates(waiting_only=True)``:
nothing more when none are) and, for each with a free place, keeps the place for its
oldest parked jobs and sends them their messages, as a job ending would have. Hosts run
it every few seconds when their app has limits; several at once are harmless (each gate
changes under its version).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from ..clock import Clock
from ..errors import QueuedJobsError
from ..runner import JobRegistry
from ..telemetry.logs import library_logger
from .keeper import JobGate, LimitKeeper

__all__ = ["IDLE_FOR", "PURGE_EVERY", "LimitSweeper"]

log = library_logger("queued_jobs.limits")
#: The most pages of waiting gates one pass reads (the rest: next pass).
_PAGES: Final = 10
#: How often a host looks for gates left idle, and how long one must be to go.
PURGE_EVERY: Final = timedelta(hours=1)
IDLE_FOR: Final = timedelta(hours=1)


class LimitSweeper:
    """Wakes parked jobs into free places, for the limits ``registry``'s job types pass."""

    def __init__(
        self, keeper: LimitKeeper, registry: JobRegistry, *, clock: Clock, share: bool = False
    ) -> None:
        """``share``: the app has an owner share (its gates are purged too)."""
        self._keeper = keeper
        self._share = share
        self._registry = registry
        self._clock = clock
        self._purged_at: datetime | None = None

    @property
    def needed(self) -> bool:
        """Whether any job type passes a limit, or the app has an owner share (else there
        is nothing to sweep)."""
        return self._share or bool(self._registry.limits())

    async def sweep(self) -> int:
        """One pass; how many parked jobs it woke."""
        woken = 0
        continuation = None
        try:
            for _ in range(_PAGES):
                page = await self._keeper.store.list_gates(
                    waiting_only=True, continuation=continuation
                )
                for gate in page.items:
                    limit = self._registry.limit(gate.limit)
                    if limit is not None:
                        woken += await self._keeper.wake_parked(JobGate(limit, gate.key))
                continuation = page.continuation
                if continuation is None:
                    break
        except QueuedJobsError as exc:
            log.warning("limits' sweep stopped early (%s); the next one carries on", exc)
        if woken:
            log.info("limits' sweep: woke %d parked jobs into free places", woken)
        now = self._clock.now()
        if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
            self._purged_at = now
            await self.purge()
        return woken

    async def purge(self) -> int:
        """Remove the gates left idle for :data:`IDLE_FOR` (nobody holds, waits or
        counts in them: a key seen once, a customer long gone); how many."""
        purged = 0
        continuation = None
        try:
            for _ in range(_PAGES):
                page = await self._keeper.store.list_gates(continuation=continuation)
                for gate in page.items:
                    purged += await self._keeper.purge_idle(gate, idle_for=IDLE_FOR)
                continuation = page.continuation
                if continuation is None:
                    break
        except QueuedJobsError as exc:
            log.warning("limits' sweep: purging idle gates stopped early (%s)", exc)
        if purged:
            log.info("limits' sweep: removed %d idle gates", purged)
        return purged
