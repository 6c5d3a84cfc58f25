"""The :class:`SequenceClient`: start, read, list, cancel and purge sequences.

Built on a :class:`~queued_jobs.client.JobClient` (its store, broker and registry); the
hosts advance what it starts (every ``JobApp.pipeline()`` has the listener), and a
:class:`~queued_jobs.sequences.sweep.SequenceSweeper` finishes what a crash left.
Not imported by ``queued_jobs.sequences`` itself (the repositories import that package).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..client import JobClient
from ..errors import InvalidInput, SequenceNotFound
from ..repositories.base import DEFAULT_PAGE_SIZE, Page
from .engine import SequenceEngine
from .model import MAX_REASON_LENGTH, Sequence, is_sequence_id
from .store import DEFAULT_PURGE_LIMIT

__all__ = ["SequenceClient"]


class SequenceClient:
    """Starts, reads, lists, cancels and purges sequences through ``client``."""

    def __init__(self, client: JobClient) -> None:
        self.client = client
        self.engine = SequenceEngine(client)

    async def start(
        self,
        steps: Any,
        *,
        owner: str,
        name: str,
        max_iterations: int | None = None,
    ) -> Sequence:
        """Store a sequence of ``steps`` (:class:`~queued_jobs.sequences.model.Step`
        values, or their dictionaries) for ``owner`` and start its first step; returns
        the record with the first run's job ids.

        Raises ``InvalidSequence`` for a definition that cannot run (naming the step and
        what is wrong: an action, a ``goto`` outside the steps, a job type not
        registered, a request its type refuses), ``PayloadTooLarge`` for one over the
        bounds; nothing is stored then.
        """
        return await self.engine.start(
            owner=owner, name=name, steps=steps, max_iterations=max_iterations
        )

    async def get(self, sequence_id: str) -> Sequence:
        """The sequence; ``SequenceNotFound`` if there is none (also for what is no
        sequence id, without asking the store)."""
        if not is_sequence_id(sequence_id):
            raise SequenceNotFound(sequence_id)
        return await self.client.repository.sequences.get_sequence(sequence_id)

    async def list(
        self,
        *,
        owner: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Sequence]:
        """Sequences newest first, every owner's or ``owner``'s; pass a page's
        ``continuation`` back for the next."""
        return await self.client.repository.sequences.list_sequences(
            owner=owner, limit=limit, continuation=continuation
        )

    async def cancel(self, sequence_id: str, *, reason: str = "cancelled") -> Sequence:
        """Cancel a running sequence and its jobs not yet ended (a waiting job at once, a
        running one at its next lease renewal); an ended sequence is returned as it is.
        Late completions of its jobs are recorded and start nothing."""
        if not is_sequence_id(sequence_id):
            raise SequenceNotFound(sequence_id)
        return await self.engine.cancel(sequence_id, reason=reason[:MAX_REASON_LENGTH])

    async def purge(self, *, ended_before: datetime, limit: int | None = None) -> int:
        """Delete the sequences that ended before ``ended_before`` (a timezone-aware
        moment), those that ended first first: all of them, or at most ``limit`` (a
        positive integer); returns how many. Running sequences, and cancelled ones whose
        jobs are still being told, are kept; the jobs of those deleted stay.

        ``InvalidInput`` for a bad moment or limit, before anything is deleted.
        """
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < 1
        ):
            raise InvalidInput(f"a purge's limit is a positive integer, not {limit!r:.40}")
        store = self.client.repository.sequences
        purged = 0
        while limit is None or purged < limit:
            batch = (
                DEFAULT_PURGE_LIMIT if limit is None else min(DEFAULT_PURGE_LIMIT, limit - purged)
            )
            deleted = await store.purge_sequences(ended_before=ended_before, limit=batch)
            purged += deleted
            if deleted < batch:
                break
        return purged
