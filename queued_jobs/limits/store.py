"""The :class:`LimitStore` protocol: where limits' gates, parked jobs and run-time
settings live.

A sibling of :class:`~queued_jobs.repositories.base.JobRepository`, like the schedule
and sequence stores: each repository adapter offers one as its ``limits`` property, on the
same store (memory, the SQLite file, the Azure table). It knows nothing of capacities or
windows: it keeps gates as versioned documents, each with its parked jobs beside it
(written in the same atomic write as the gate), and the settings records. The rules live
once, above it (``limits/gates.py``).

Azure keeps each gate in a partition of its own, with its parked jobs' rows, so that a
gate and its waiters change in one entity-group transaction and gates never share a
partition's throughput.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from ..repositories.base import DEFAULT_PAGE_SIZE, Page
from .model import Gate, LimitSettings, Waiter

__all__ = ["MAX_WAITERS_READ", "MAX_WAITERS_REMOVED", "LimitStore"]

#: The most waiters :meth:`LimitStore.first_waiters` returns at once.
MAX_WAITERS_READ: Final = 1000
#: The most waiters one :meth:`LimitStore.save_gate` removes: on Azure the gate's row, the
#: added waiter's and the removed ones' are one entity-group transaction, of at most 100.
MAX_WAITERS_REMOVED: Final = 98


class LimitStore(Protocol):
    """Stores gates, their parked jobs and limits' settings. Every method is a coroutine.

    Versions are opaque strings set by the store (an ETag on Azure); every change of a
    gate or a settings record is conditional on the version read. A gate's document is
    validated on every read: a row that cannot be read raises ``StorageError``.
    """

    async def load_gate(self, limit: str, key: str) -> Gate | None:
        """The gate of ``limit`` for ``key``, or ``None`` if none is stored. One read.
        ``InvalidInput`` for a name or key a gate cannot have."""
        ...

    async def save_gate(
        self,
        gate: Gate,
        *,
        add_waiter: Waiter | None = None,
        remove_waiters: Sequence[str] = (),
    ) -> Gate:
        """Store ``gate`` if it is still at ``gate.version`` (``None``: if none is stored
        yet); returns it with its new version. ``ConcurrencyConflict`` if it moved
        meanwhile (or was stored, or deleted), and then nothing is written.

        In the same atomic write: ``add_waiter`` is parked at the gate (replacing that
        job's row if it has one: it keeps its place, which is its job id's), and the rows
        of the jobs ``remove_waiters`` names are removed (those that have none are
        skipped; a job both removed and added stays parked). ``InvalidInput`` for more
        than :data:`MAX_WAITERS_REMOVED` removals, or for one that is no job id. One
        write (on Azure one entity-group transaction; a query and a second one if a job
        it removes has no row)."""
        ...

    async def delete_gate(self, gate: Gate) -> bool:
        """Remove ``gate`` if it is still at its version and has no parked job; returns
        whether it did (``False``: it moved, is gone, or jobs are parked there). On Azure
        a query for a parked job, then a delete conditional on the version."""
        ...

    async def first_waiters(self, limit: str, key: str, *, count: int) -> list[Waiter]:
        """Up to ``count`` (1 to :data:`MAX_WAITERS_READ`) jobs parked at the gate, oldest
        job id first. One query. A parked job's row that cannot be read raises
        ``StorageError`` naming its job (remove it with ``save_gate``)."""
        ...

    async def count_waiters(self, limit: str, key: str, *, at_most: int) -> int:
        """How many jobs are parked at the gate, counting no further than ``at_most + 1``
        (a result over ``at_most`` means "more"). On Azure a request per 1,000 rows."""
        ...

    async def list_gates(
        self,
        *,
        limit: str | None = None,
        waiting_only: bool = False,
        page_size: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Gate]:
        """The stored gates, of every limit or of ``limit`` alone; with
        ``waiting_only``, those with jobs parked (``has_waiters``). In the store's order
        (stable, not meaningful), paged with ``continuation``. ``Page.skipped`` names the
        gates that could not be read, as ``<limit>/<key>`` (``<limit>`` alone for the key
        ``""``). ``InvalidInput`` for a bad name, size or token."""
        ...

    async def load_limit_settings(self, limit: str) -> LimitSettings | None:
        """What an operator set for ``limit``, or ``None``."""
        ...

    async def save_limit_settings(self, settings: LimitSettings) -> LimitSettings:
        """Store ``settings`` if the stored ones are still at ``settings.version``
        (``None``: if there are none yet); returns them with the new version.
        ``ConcurrencyConflict`` if they moved meanwhile."""
        ...

    async def delete_limit_settings(self, limit: str) -> None:
        """Forget what an operator set for ``limit`` (its code's values apply again).
        Deleting what is not there does nothing."""
        ...

    async def list_limit_settings(self) -> list[LimitSettings]:
        """Every limit's settings, by name (there are few: one per limit set at run time).
        A row that cannot be read is left out, and logged."""
        ...
