"""``asyncio.run`` for a process that must exit on time, whatever tasks are left."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..execution.detached import is_detached
from ..telemetry.logs import library_logger

__all__ = ["run_bounded"]

log = library_logger("queued_jobs")
T = TypeVar("T")


def run_bounded(main: Coroutine[Any, Any, T], *, cleanup: float = 0.5) -> T:
    """Run ``main`` in a new event loop, then close it within about ``cleanup`` seconds.

    ``asyncio.run`` cancels the tasks left when ``main`` returns and waits for them without
    a bound, then for the loop's executor threads: a job that swallows ``CancelledError``
    or a thread that never ends keeps the process alive forever. Here the tasks get
    ``cleanup`` seconds and are then left behind (logged); the executor is not waited for
    (job code runs in daemon threads of its own, see :mod:`queued_jobs._threads`).
    """
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            _cancel_leftovers(loop, cleanup)
            loop.run_until_complete(_within(loop.shutdown_asyncgens(), cleanup))
        finally:  # closing shuts the executor down without waiting for its threads
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop, seconds: float) -> None:
    leftovers = asyncio.all_tasks(loop)
    for task in leftovers:
        task.cancel()
    stoppable = {task for task in leftovers if not is_detached(task)}
    pending = leftovers - stoppable  # already told to stop, and waited for: not again
    if stoppable:
        _, late = loop.run_until_complete(asyncio.wait(stoppable, timeout=seconds))
        pending |= late
    for task in leftovers - pending:
        if not task.cancelled() and task.exception() is not None:
            log.error("a task ended with an error on exit: %r", task.exception())
    if pending:
        log.error(
            "exiting with %d tasks that did not stop when cancelled (%s); they are left behind",
            len(pending),
            ", ".join(sorted(task.get_name() for task in pending)),
        )


async def _within(step: Coroutine[Any, Any, None], seconds: float) -> None:
    try:
        await asyncio.wait_for(step, seconds)
    except TimeoutError:
        log.warning("exiting without waiting longer for the event loop's cleanup")
