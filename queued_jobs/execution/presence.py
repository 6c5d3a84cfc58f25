"""Hosts saying they are alive: each worker, Functions instance and API server saves its
:class:`~queued_jobs.models.Presence` every so often (``JobRepository.save_presence``), so
that ``GET /workers`` shows who runs jobs.

A save is one write and never part of a job: the standalone worker saves every
``WorkerSettings.presence_interval`` (30 s) from a loop of its own, and once more, marked
``stopped``, when it stops gracefully; a Functions instance saves at most once per
:data:`FUNCTIONS_PRESENCE_EVERY` (a minute), from the invocations it handles anyway
(:meth:`PresenceRecorder.save_if_due`, gated in memory). A save that fails or takes more
than its patience is logged at WARNING and given up: it never fails a job or its host.

Every presence carries two details of the recorder's own: ``every_seconds``, how often its
host saves (what a reader measures staleness by), and ``stopped``, whether the host said
it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from ..clock import SYSTEM_CLOCK, Clock
from ..models import MAX_DETAIL_TEXT, DetailValue, Presence, PresenceKind
from ..repositories.base import JobRepository
from ..telemetry.logs import library_logger

__all__ = [
    "EVERY_DETAIL",
    "FUNCTIONS_PRESENCE_EVERY",
    "PRESENCE_EVERY",
    "SAVE_PATIENCE",
    "STOPPED_DETAIL",
    "Details",
    "PresenceRecorder",
    "detail_text",
]

log = library_logger("queued_jobs.presence")

#: How often a worker (and an API server) saves its presence, by default.
PRESENCE_EVERY: Final = timedelta(seconds=30)
#: A Functions instance saves its presence at most this often.
FUNCTIONS_PRESENCE_EVERY: Final = timedelta(seconds=60)
#: The longest a save may take before it is given up (seconds).
SAVE_PATIENCE: Final = 10.0
#: The detail saying how often the host saves (seconds).
EVERY_DETAIL: Final = "every_seconds"
#: The detail saying whether the host said it stopped.
STOPPED_DETAIL: Final = "stopped"

#: What a host tells of itself at each save.
Details = Callable[[], Mapping[str, DetailValue]]


def detail_text(text: str) -> str:
    """``text`` cut to what a detail holds."""
    return text if len(text) <= MAX_DETAIL_TEXT else text[: MAX_DETAIL_TEXT - 1] + "…"


def _package_version() -> str:
    from .. import __version__  # here: the package imports this module before defining it

    return __version__


class PresenceRecorder:
    """Saves one host's presence to ``repository``; never raises."""

    def __init__(
        self,
        repository: JobRepository,
        *,
        host: str,
        kind: PresenceKind,
        every: timedelta,
        clock: Clock = SYSTEM_CLOCK,
        version: str | None = None,
        patience: float = SAVE_PATIENCE,
    ) -> None:
        if every <= timedelta(0):
            raise ValueError("a presence is saved every more than 0 seconds")
        self.repository = repository
        self.host = host
        self.kind = kind
        self.every = every
        self.clock = clock
        self.version = version or _package_version()
        self.patience = patience
        self.started_at = clock.now()
        #: When the last save was tried (``None``: never).
        self._tried_at: datetime | None = None

    async def save(
        self,
        details: Mapping[str, DetailValue] | Details | None = None,
        *,
        stopped: bool = False,
        patience: float | None = None,
    ) -> bool:
        """Save the presence now, with ``details`` (or what ``details()`` tells); returns
        whether it was saved. A failure, or a save longer than ``patience`` (seconds;
        default the recorder's), is logged at WARNING."""
        now = self._tried_at = self.clock.now()
        try:
            told = details() if callable(details) else details
            presence = Presence(
                host=self.host,
                kind=self.kind,
                started_at=self.started_at,
                seen_at=now,
                version=self.version,
                details={
                    **(told or {}),
                    EVERY_DETAIL: self.every.total_seconds(),
                    STOPPED_DETAIL: stopped,
                },
            )
            async with asyncio.timeout(self.patience if patience is None else patience):
                await self.repository.save_presence(presence)
        except Exception as exc:  # whatever it is, the host goes on
            log.warning(
                "%s %s: its presence was not saved: %s",
                self.kind.value,
                self.host,
                str(exc) or type(exc).__name__,
            )
            return False
        return True

    def due(self) -> bool:
        """Whether :attr:`every` has passed since the last save was tried (or the clock
        went back before it)."""
        tried, now = self._tried_at, self.clock.now()
        return tried is None or not tried <= now < tried + self.every

    async def save_if_due(self, details: Details) -> bool:
        """Save, with what ``details()`` tells, if :meth:`due`; returns whether it saved.
        Calls at once save once: the first marks the time before its write."""
        if not self.due():
            return False
        return await self.save(details)

    async def forever(self, details: Details) -> None:
        """Save now, then every :attr:`every`, until cancelled."""
        while True:
            await self.save(details)
            await asyncio.sleep(self.every.total_seconds())
