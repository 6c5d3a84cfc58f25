"""The memory store's index: the ids of its jobs by owner, by status, by type and by tag, so
that a listing reads the jobs its filters name rather than every job held."""

from __future__ import annotations

from collections.abc import Iterable, Set

from ..models import JobStatus
from .base import JobQuery

__all__ = ["JobIndex"]

_NONE: Set[str] = frozenset()


class JobIndex:
    """Ids by ``("owner", owner)``, ``("status", status)``, ``("type", job type)`` and
    ``("tag", tag)``."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], set[str]] = {}

    @staticmethod
    def _keys(
        owner: str, status: JobStatus, job_type: str, tags: Iterable[str]
    ) -> set[tuple[str, str]]:
        return {
            ("owner", owner),
            ("status", status.value),
            ("type", job_type),
            *(("tag", tag) for tag in tags),
        }

    def add(
        self, job_id: str, owner: str, status: JobStatus, job_type: str, tags: Iterable[str] = ()
    ) -> None:
        for key in self._keys(owner, status, job_type, tags):
            self._ids.setdefault(key, set()).add(job_id)

    def remove(
        self, job_id: str, owner: str, status: JobStatus, job_type: str, tags: Iterable[str] = ()
    ) -> None:
        for key in self._keys(owner, status, job_type, tags):
            ids = self._ids.get(key)
            if ids is not None:
                ids.discard(job_id)
                if not ids:
                    del self._ids[key]

    def candidates(self, query: JobQuery) -> Set[str] | None:
        """The ids that may match ``query`` (its owner, statuses, type and tag; the window
        is for the caller to check), or ``None`` when it names none of them (every job)."""
        found: list[Set[str]] = []
        if query.owner is not None:
            found.append(self._ids.get(("owner", query.owner), _NONE))
        if query.job_type is not None:
            found.append(self._ids.get(("type", query.job_type), _NONE))
        if query.tag is not None:
            found.append(self._ids.get(("tag", query.tag), _NONE))
        if query.statuses:
            found.append(
                set().union(*(self._ids.get(("status", s.value), _NONE) for s in query.statuses))
            )
        if not found:
            return None
        smallest, *others = sorted(found, key=len)
        return {job_id for job_id in smallest if all(job_id in ids for ids in others)}
