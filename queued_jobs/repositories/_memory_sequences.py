"""Sequences in memory: the ``sequences`` of ``MemoryJobRepository``.

As the durable stores do, a sequence is kept as its JSON document (read back and
validated by every read), under a version counter; the active ones are a set of ids.
Each write hands the record to ``record`` (the repository's change feed) in the same
step, with no pause between.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..errors import (
    ConcurrencyConflict,
    CorruptSequenceRecord,
    DuplicateSequence,
    InvalidInput,
    SequenceNotFound,
)
from ..sequences.model import Sequence
from ..sequences.store import DEFAULT_PURGE_LIMIT
from ._schedules import check_limit
from ._sequences import (
    check_listing,
    check_purge,
    check_sequence,
    ended_at,
    sequence_doc,
    sequence_from_json,
)
from .base import DEFAULT_PAGE_SIZE, Page

__all__ = ["MemorySequenceStore"]


@dataclass(frozen=True, slots=True)
class _Row:
    owner: str
    active: bool
    version: str
    doc: str
    #: When it ended (``None`` while active): what a purge looks at.
    ended: datetime | None = None


class MemorySequenceStore:
    """The :class:`~queued_jobs.sequences.store.SequenceStore` of one memory repository."""

    def __init__(self, record: Callable[[Sequence], None] = lambda _: None) -> None:
        self._rows: dict[str, _Row] = {}
        self._versions = itertools.count(1)
        self._record = record

    def _store(self, sequence: Sequence) -> Sequence:
        version = str(next(self._versions))
        row = _Row(
            sequence.owner,
            sequence.is_active,
            version,
            sequence_doc(sequence),
            ended_at(sequence),
        )
        self._rows[sequence.id] = row
        self._record(sequence)
        return sequence.model_copy(update={"version": version})

    async def insert_sequence(self, sequence: Sequence) -> Sequence:
        check_sequence(sequence)
        if sequence.id in self._rows:
            raise DuplicateSequence(sequence.id)
        return self._store(sequence)

    async def get_sequence(self, sequence_id: str) -> Sequence:
        row = self._rows.get(sequence_id) if isinstance(sequence_id, str) else None
        if row is None:
            raise SequenceNotFound(sequence_id)
        return sequence_from_json(sequence_id, row.doc, row.version)

    async def update_sequence(self, sequence: Sequence) -> Sequence:
        check_sequence(sequence)
        row = self._rows.get(sequence.id)
        if row is None:
            raise SequenceNotFound(sequence.id)
        if row.owner != sequence.owner:
            raise InvalidInput(f"sequence {sequence.id}: a sequence's owner never changes")
        if sequence.version is None or sequence.version != row.version:
            raise ConcurrencyConflict(sequence.id, kind="sequence")
        return self._store(sequence)

    async def delete_sequence(self, sequence_id: str) -> None:
        if isinstance(sequence_id, str):
            self._rows.pop(sequence_id, None)

    async def list_sequences(
        self,
        *,
        owner: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        continuation: str | None = None,
    ) -> Page[Sequence]:
        owner, after = check_listing(owner, limit, continuation)
        return self._page(lambda row: owner is None or row.owner == owner, limit=limit, after=after)

    async def list_active_sequences(
        self, *, limit: int = DEFAULT_PAGE_SIZE, continuation: str | None = None
    ) -> Page[Sequence]:
        _, after = check_listing(None, limit, continuation)
        return self._page(lambda row: row.active, limit=check_limit(limit), after=after)

    async def purge_sequences(
        self, *, ended_before: datetime, limit: int = DEFAULT_PURGE_LIMIT
    ) -> int:
        cutoff = check_purge(ended_before, limit)
        ended = sorted(
            (row.ended, i)
            for i, row in self._rows.items()
            if row.ended is not None and row.ended < cutoff
        )
        for _, sequence_id in ended[:limit]:
            del self._rows[sequence_id]
        return len(ended[:limit])

    def _page(
        self, keep: Callable[[_Row], bool], *, limit: int, after: str | None
    ) -> Page[Sequence]:
        ids = sorted(
            (i for i, row in self._rows.items() if keep(row) and (after is None or i < after)),
            reverse=True,
        )
        items: list[Sequence] = []
        skipped: list[str] = []
        for sequence_id in ids[:limit]:
            row = self._rows[sequence_id]
            try:
                items.append(sequence_from_json(sequence_id, row.doc, row.version))
            except CorruptSequenceRecord:
                skipped.append(sequence_id)
        return Page(items, ids[limit - 1] if len(ids) > limit else None, skipped)
