"""The limits' sweep: parked jobs at gates whose places were given back by no one (their
holders died; an operator raised the capacity) are woken by it.

A pass reads the gates with parked jobs (``LimitStore.list_gates(waiting_only=True)``:
nothing more when none are) and, for each with a free place, keeps the place for its
oldest parked jobs and sends them their messages, as a job ending would have. Hosts run
it every few seconds when their app has limits; several at once are harmless (each gate
changes under its version).
"""

from __future__ import annotations

import logging
from typing import Final

from ..errors import QueuedJobsError
from ..runner import JobRegistry
from .keeper import JobGate, LimitKeeper

__all__ = ["LimitSweeper"]

log = logging.getLogger("queued_jobs.limits")
#: The most pages of waiting gates one pass reads (the rest: next pass).
_PAGES: Final = 10


class LimitSweeper:
    """Wakes parked jobs into free places, for the limits ``registry``'s job types pass."""

    def __init__(self, keeper: LimitKeeper, registry: JobRegistry) -> None:
        self._keeper = keeper
        self._registry = registry

    @property
    def needed(self) -> bool:
        """Whether any job type passes a limit (else there is nothing to sweep)."""
        return bool(self._registry.limits())

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
        return woken
