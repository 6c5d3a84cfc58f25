"""The API server's presence while it serves on its own (``queued-jobs serve``): saved at
its start, every :data:`~queued_jobs.execution.presence.PRESENCE_EVERY` (30 s) and, marked
stopped, at its shutdown, one write each, so that ``GET /workers`` shows the API servers
too. A web app mounted in another, or behind the Functions HTTP trigger, saves none (the
Functions instance saves its own)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

from fastapi import FastAPI

from ..execution.presence import PRESENCE_EVERY, PresenceRecorder
from ..models import PresenceKind
from ..telemetry.logs import library_logger
from ._runtime import Runtime

__all__ = ["keep_presence"]

log = library_logger("queued_jobs.web")
#: How long the stopped save may take at shutdown (seconds).
_STOPPING_PATIENCE: Final = 1.0


def keep_presence(web: FastAPI) -> None:
    """Have ``web``'s lifespan save the server's presence while it serves."""
    inner = web.router.lifespan_context
    runtime: Runtime = web.state.runtime

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        async with inner(app) as state:
            try:
                repository = (await runtime.client()).repository
            except Exception as exc:  # storage that cannot be opened: every route says so
                log.warning("the API server's presence is not saved: %s", exc)
                yield state
                return
            recorder = PresenceRecorder(
                repository,
                host=f"{socket.gethostname()}:{os.getpid()}",
                kind=PresenceKind.API,
                every=PRESENCE_EVERY,
                clock=runtime.app.clock,
            )
            saving = asyncio.create_task(recorder.forever(dict))
            try:
                yield state
            finally:
                saving.cancel()
                await asyncio.wait({saving})
                await recorder.save(stopped=True, patience=_STOPPING_PATIENCE)

    web.router.lifespan_context = lifespan
