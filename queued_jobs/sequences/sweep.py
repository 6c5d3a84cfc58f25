"""The sequence sweep: finishes what a crash left undone, for every active sequence.

A completion advances its sequence at once (the listener, ``listener.py``); the sweep is
for what that missed: a process that died between a step's write and storing its jobs, a
completion whose listener did not run or gave up (a job cancelled by a client, a failed
send), a cancel that stopped before telling every job. It reads the active sequences from
their index (none of the others), passes over those written within ``grace`` (their
writer is likely still at work), and settles each (``SequenceEngine.settle``). Every step
is idempotent and guarded by versions, so sweeps may run at once on several hosts; a pass
first takes the store-wide lease ``sequence-sweep`` for ``lease_for`` (50 s), so that
however many hosts sweep every minute, about one pass a minute reads the active
sequences (``SequenceSweepReport.held_elsewhere`` when another holds it).
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from ..client import JobClient
from ..errors import QueuedJobsError
from ..telemetry.logs import library_logger
from .engine import SequenceEngine
from .model import Sequence

__all__ = ["DEFAULT_GRACE", "LEASE_NAME", "SWEEP_LEASE", "SequenceSweepReport", "SequenceSweeper"]

log = library_logger("queued_jobs.sequences")
DEFAULT_GRACE: Final = timedelta(seconds=30)
LEASE_NAME: Final = "sequence-sweep"
SWEEP_LEASE: Final = timedelta(seconds=50)
_PAGE: Final = 100
_AT_ONCE: Final = 8


@dataclass(frozen=True, slots=True)
class SequenceSweepReport:
    """What one pass did."""

    #: Active sequences read from the index.
    looked_at: int = 0
    #: Of those, the ones written within the grace period, left alone.
    recent: int = 0
    #: Sequences the pass wrote (advanced, ended, a cancel finished).
    moved: int = 0
    #: Jobs stored that a crash had left unstored.
    created: int = 0
    #: Sequences the pass could not settle (the log says why); the next pass tries again.
    failed: tuple[str, ...] = field(default=())
    #: Another host holds the sweep's lease: this pass did nothing.
    held_elsewhere: bool = False


class SequenceSweeper:
    """Settles the active sequences of ``client``'s store; call :meth:`sweep` now and then
    (every minute, say), from any number of hosts."""

    def __init__(
        self,
        client: JobClient,
        *,
        grace: timedelta = DEFAULT_GRACE,
        engine: SequenceEngine | None = None,
        lease_for: timedelta = SWEEP_LEASE,
        holder: str | None = None,
    ) -> None:
        self.client = client
        self.grace = grace
        self.engine = engine or SequenceEngine(client)
        self.lease_for = lease_for
        host = socket.gethostname()[:100]
        self.holder = holder or f"{host}:{os.getpid()}:{uuid.uuid4().hex[:12]}"

    async def sweep(self) -> SequenceSweepReport:
        """One pass over every active sequence, unless another host holds the lease."""
        now = self.client.clock.now()
        taken = await self.client.repository.take_lease(
            LEASE_NAME, self.holder, now=now, until=now + self.lease_for
        )
        if not taken:
            return SequenceSweepReport(held_elsewhere=True)
        looked_at = recent = moved = created = 0
        failed: list[str] = []
        cutoff = now - self.grace
        continuation: str | None = None
        while True:
            page = await self.client.repository.sequences.list_active_sequences(
                limit=_PAGE, continuation=continuation
            )
            looked_at += len(page.items)
            due = [s for s in page.items if s.updated_at <= cutoff]
            recent += len(page.items) - len(due)
            for start in range(0, len(due), _AT_ONCE):
                group = due[start : start + _AT_ONCE]
                results = await asyncio.gather(*(self._settle(s) for s in group))
                for sequence, result in zip(group, results, strict=True):
                    if result is None:
                        failed.append(sequence.id)
                        continue
                    moved += result[0]
                    created += result[1]
            if page.continuation is None:
                break
            continuation = page.continuation
        return SequenceSweepReport(looked_at, recent, moved, created, tuple(failed))

    async def _settle(self, sequence: Sequence) -> tuple[int, int] | None:
        try:
            settled = await self.engine.settle(sequence)
        except QueuedJobsError as exc:
            log.error("sequence %s: the sweep could not settle it: %s", sequence.id, exc)
            return None
        return int(settled.moved), settled.created
