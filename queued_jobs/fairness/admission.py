"""Admission to the ready queues: which of an owner's new jobs take a place there and
which go to the overflow queue (:mod:`.share`), and giving the places back as workers
claim the jobs.

Each owner's places are one gate of the limit :data:`~.share.SHARE_LIMIT`, kept by the
:class:`~queued_jobs.limits.keeper.LimitKeeper` like any limit's: a versioned document
changed by conditional writes, so that enqueuers on many hosts never let more of an
owner's jobs in than the share allows. Nobody is ever parked there: a job without a place
is queued on the overflow queue at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from ..errors import QueuedJobsError
from ..limits.definitions import gate_key_of
from ..limits.keeper import JobGate, LimitKeeper
from ..limits.model import Gate, Holding
from ..limits.rules import Change
from ..models import JobStatus, QueuedJob
from ..telemetry.logs import library_logger
from .share import OwnerShare, is_overflow

__all__ = ["Admission"]

log = library_logger("queued_jobs.fairness")


class Admission:
    """The owner share of one host, on ``keeper``'s store; ``overflow`` is the name of the
    application's overflow queue."""

    def __init__(self, keeper: LimitKeeper, share: OwnerShare, *, overflow: str) -> None:
        self.keeper = keeper
        self.share = share
        self.overflow = overflow

    def _gate(self, owner: str) -> JobGate:
        return JobGate(self.share.limit, gate_key_of(owner))  # a long owner: its digest

    async def admit(self, jobs: Sequence[QueuedJob]) -> list[QueuedJob]:
        """``jobs`` (new, not stored yet) as they are to be stored: those that took a
        place keep their band's queue, the others go to the overflow queue. Jobs
        scheduled beyond a queue's longest delay take no place now (the sweep admits
        them when it queues them). A read and a write per owner (the read alone when
        the owner's share is used up)."""
        owners: dict[str, list[QueuedJob]] = {}
        for job in jobs:
            if job.status is JobStatus.QUEUED and not is_overflow(job.queue):
                owners.setdefault(job.owner, []).append(job)
        # the owners' gates are apart: read and written side by side
        taken = await asyncio.gather(*(self._take(o, group) for o, group in owners.items()))
        admitted = set().union(*taken)
        asked = {job.id for group in owners.values() for job in group}
        return [
            job.model_copy(update={"queue": self.overflow})
            if job.id in asked and job.id not in admitted
            else job
            for job in jobs
        ]

    async def _take(self, owner: str, jobs: list[QueuedJob]) -> set[str]:
        gate = self._gate(owner)
        capacity = await self.keeper.capacity(self.share.limit)
        hold = self.share.hold

        def take(current: Gate, now: datetime) -> Change:
            # a place lasts for the hold past the job's time: now, or its delay's end
            places = [(job.id, max(job.run_at or now, now) + hold) for job in jobs]
            return _take_places(current, places, capacity=capacity, now=now)

        # Workers give places back as they claim jobs, so this host's copy of the gate is
        # nearly always behind: read it (a read and a write, rather than a write that
        # fails, a read and a write).
        self.keeper.forget_gate(gate)
        change = await self.keeper.apply(gate, take)
        held = set(change.gate.holders) if change is not None else set()
        return {job.id for job in jobs} & held

    async def admit_one(self, job: QueuedJob) -> QueuedJob:
        """:meth:`admit` for one job."""
        [admitted] = await self.admit([job])
        return admitted

    async def leave(self, job: QueuedJob) -> None:
        """Give back the place ``job`` holds in the ready queues (a worker claimed it, or
        it ended before), if it holds one: a read and a write (the read alone if it holds
        none). A failure is logged: the place is free again after the share's hold."""
        if is_overflow(job.queue):
            return
        gate = self._gate(job.owner)

        def back(current: Gate, now: datetime) -> Change:
            return _give_back(current, job.id, now=now)

        self.keeper.forget_gate(gate)  # enqueuers changed it since, surely: read it
        try:
            await self.keeper.apply(gate, back)
        except QueuedJobsError as exc:
            log.warning(
                "job %s: could not give back its owner's place in the ready queues (%s); "
                "it is free again after %s",
                job.id,
                exc,
                self.share.hold,
            )


def _take_places(
    gate: Gate, places: Sequence[tuple[str, datetime]], *, capacity: int, now: datetime
) -> Change:
    """As many of ``places`` (job id, until when) as the gate has room for, in order;
    places that ran out are dropped. Unchanged when there is nothing to store."""
    live = gate.live_holders(now)
    room = capacity - len(live)
    new = [(job_id, until) for job_id, until in places if job_id not in live][: max(room, 0)]
    if not new and len(live) == len(gate.holders):
        return Change(gate, False, held=len(live), unchanged=True)
    holders = dict(live)
    for job_id, until in new:
        holders[job_id] = Holding(since=now, until=until, started=False)
    changed = gate.model_copy(update={"holders": holders, "updated_at": now})
    return Change(changed, bool(new), held=len(holders))


def _give_back(gate: Gate, job_id: str, *, now: datetime) -> Change:
    """The gate without ``job_id``'s place (and places that ran out); unchanged if it
    holds none."""
    if job_id not in gate.holders:
        return Change(gate, False, held=len(gate.holders), unchanged=True)
    holders = gate.live_holders(now)
    holders.pop(job_id, None)
    changed = gate.model_copy(update={"holders": holders, "updated_at": now})
    return Change(changed, False, held=len(holders))
