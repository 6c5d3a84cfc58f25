"""Which jobs of one SQLite file changed, told to waiters in every process: what lets a
caller waiting for a job (``JobClient.wait``) read it again as soon as it is written rather
than at its next poll.

A writer names the jobs it changed, after their write is committed; the names written in
one turn of the event loop go out together, as one datagram of job ids (``*`` when they do
not fit: then every waiter reads), on a :class:`~._sqlite.doorbell.Doorbell` of its own
(folder ``<file>.changes``, kept as the arrivals doorbell is). The folder exists only once
someone has waited, so a store nobody waits on pays one failed ``open`` per loop turn
with writes. A waiter's pause ends when its job is named, or at its end; where there is no
doorbell it simply lasts its time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Final

from ..waiting import JobWaiters
from .doorbell import MAX_PAYLOAD, Doorbell, _Listener

__all__ = ["ChangeBell"]

_EVERY_JOB: Final = b"*"
_SEPARATOR: Final = b","


class _ChangeDoorbell(Doorbell):
    """A doorbell whose ring names the jobs written since the last one."""

    def __init__(self, database: Path) -> None:
        super().__init__(database, suffix=".changes")
        self.changed: set[str] = set()

    def payload(self) -> bytes:
        changed, self.changed = self.changed, set()
        payload = _SEPARATOR.join(sorted(job_id.encode() for job_id in changed))
        return payload if len(payload) <= MAX_PAYLOAD else _EVERY_JOB


class ChangeBell:
    """Tells waiters, in any process, that jobs of one database file changed."""

    def __init__(self, database: Path) -> None:
        self._bell = _ChangeDoorbell(database)
        self._listener: _Listener | None = None
        self._listened = False
        self._waiters = JobWaiters()

    def changed(self, job_id: str) -> None:
        """Say that job ``job_id`` was written (after its commit); the jobs written in one
        turn of the event loop are told together, at its end."""
        self._bell.changed.add(job_id)
        self._bell.ring()

    async def pause(self, job_id: str, seconds: float) -> None:
        """Wait up to ``seconds``, less if job ``job_id`` is written meanwhile."""
        if not self._listened:
            self._listened = True
            self._listener = self._bell.listen(self._heard)
        if self._listener is None:
            await asyncio.sleep(seconds)
            return
        self._listener.start()
        await self._waiters.pause(job_id, seconds)

    def _heard(self, datagram: bytes) -> None:
        if datagram == _EVERY_JOB:
            self._waiters.wake()
        else:
            self._waiters.wake(p.decode(errors="replace") for p in datagram.split(_SEPARATOR))

    def close(self) -> None:
        self._waiters.wake()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._bell.close()
