"""Bounded waits of a stopping worker, which say what they wait for while storage is slow."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from ..queues.base import JobQueue, QueueMessage
from ..telemetry.logs import library_logger

__all__ = ["hand_back", "waited"]

log = library_logger("queued_jobs.worker")


async def hand_back(queue: JobQueue, message: QueueMessage, *, identity: str) -> None:
    """Make ``message`` visible again at once, for other workers; says so if it cannot."""
    try:
        await queue.renew(message, visibility_timeout=timedelta(0))
    except asyncio.CancelledError:
        log.warning(
            "worker %s: message %s not handed back (storage did not answer in time): it "
            "comes back when its lease ends, at %s",
            identity,
            message.id,
            message.visible_at.isoformat(timespec="seconds"),
        )
        raise
    except Exception as exc:  # it comes back when its visibility ends anyway
        log.warning("worker %s: message %s not handed back: %s", identity, message.id, exc)


async def waited(
    task: asyncio.Future[Any], what: str, limit: float, *, every: float, identity: str
) -> None:
    """Wait for ``task`` up to ``limit`` seconds, saying every ``every`` seconds that it is
    still waiting."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not task.done():
        left = started + limit - loop.time()
        if left <= 0:
            return
        await asyncio.wait({task}, timeout=min(every, left))
        if not task.done() and loop.time() - started >= every:
            log.warning(
                "worker %s: %s has been waiting for %.0fs (storage unreachable?)",
                identity,
                what,
                loop.time() - started,
            )
