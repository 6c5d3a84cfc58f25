"""The :class:`SequenceStore` protocol: where sequences live.

A sibling of :class:`~queued_jobs.repositories.base.JobRepository`, like the schedule
store: each repository adapter offers one as its ``sequences`` property, on the same
store (memory, the SQLite file, the Azure table). It knows nothing of steps or outcomes:
it keeps records under versions, lists them newest first, and indexes the *active* ones
(:attr:`~queued_jobs.sequences.model.Sequence.is_active`) for the sweep and the ended
ones by when they ended, for retention.
``docs/design.md`` draws each backend's layout and what each verb costs.

Every write goes through the same gate (``repositories/_sequences.py``): a record over
:data:`~queued_jobs.sequences.model.MAX_SEQUENCE_BYTES` is refused with
``PayloadTooLarge``, one that would not read back with ``InvalidSequence``, before
anything is written. Every write of a sequence also records a change in the store's
change feed, in the same atomic write (``docs/sequences.md``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Protocol

from ..repositories.base import DEFAULT_PAGE_SIZE, Page
from .model import Sequence

__all__ = ["DEFAULT_PURGE_LIMIT", "MAX_PURGE_LIMIT", "SequenceStore"]

#: Sequences one :meth:`SequenceStore.purge_sequences` call deletes unless told otherwise.
DEFAULT_PURGE_LIMIT: Final = 1000
#: The most one call deletes.
MAX_PURGE_LIMIT: Final = 10_000


class SequenceStore(Protocol):
    """Stores sequences and indexes the active ones.

    Every method is a coroutine. A sequence's ``owner`` never changes. Versions are
    opaque strings set by the store (an ETag on Azure); every update is conditional on
    the one read.
    """

    async def insert_sequence(self, sequence: Sequence) -> Sequence:
        """Store a new sequence; returns it with ``version`` set (the one given is
        ignored). Raises ``DuplicateSequence`` if its id is taken, and what the gate
        raises."""
        ...

    async def get_sequence(self, sequence_id: str) -> Sequence:
        """The stored sequence; raises ``SequenceNotFound`` (also for what is no sequence
        id), or ``CorruptSequenceRecord`` if its row cannot be read."""
        ...

    async def update_sequence(self, sequence: Sequence) -> Sequence:
        """Replace the stored sequence if its version is still ``sequence.version``;
        returns it with its new version.

        Raises ``ConcurrencyConflict`` if it changed since it was read (or the version is
        not one this store made), ``SequenceNotFound`` if it is gone, ``InvalidInput`` for
        a change of owner, and what the gate raises. A sequence that stops being active
        leaves the active index in the same atomic write.
        """
        ...

    async def delete_sequence(self, sequence_id: str) -> None:
        """Remove a sequence (not its jobs); deleting a missing one does nothing."""
        ...

    async def list_sequences(
        self,
        *,
        owner: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Sequence]:
        """Sequences newest first (by id): every owner's, or ``owner``'s alone. Pass a
        page's ``continuation`` back for the next; ``Page.skipped`` names the unreadable
        rows left out. ``InvalidInput`` for a bad owner, limit (1 to 1,000) or token."""
        ...

    async def list_active_sequences(
        self, *, limit: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[Sequence]:
        """The active sequences (running, or cancelled with jobs still to tell), newest
        first, from an index: reads only the active ones, however many are stored."""
        ...

    async def purge_sequences(
        self, *, ended_before: datetime, limit: int = DEFAULT_PURGE_LIMIT
    ) -> int:
        """Delete up to ``limit`` (1 to :data:`MAX_PURGE_LIMIT`) sequences that ended
        before ``ended_before`` (a timezone-aware moment), those that ended first first;
        returns how many. Call again while it returns ``limit``.

        A sequence ended when it stopped being active (its ``completed_at``); one still
        running, or cancelled with jobs still to tell, is never purged. Their jobs stay (a
        job purge removes those), and so do their changes in the feed (purged with the
        feed's retention). Served by an index of the ended sequences: reads only those it
        deletes, however many are stored. ``InvalidInput`` for a bad moment or limit.
        """
        ...
