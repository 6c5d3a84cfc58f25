"""Tasks that run beside the worker's receive loop (the sweep, the look for expired
leases), supervised: one that ends while the worker runs is logged and stops the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..execution.sweep import Sweeper
from ..telemetry.logs import library_logger

__all__ = ["Periodic", "repeat_forever", "start_supervised", "stop_all", "sweep_forever"]

log = library_logger("queued_jobs.worker")


@dataclass(frozen=True, slots=True)
class Periodic:
    """A pass the worker runs every ``every`` beside its receive loop (the schedule
    firing, say): ``what`` names it in the log."""

    what: str
    run: Callable[[], Awaitable[object]]
    every: timedelta


def start_supervised(
    work: Coroutine[Any, Any, None],
    what: str,
    *,
    identity: str,
    stopping: asyncio.Event,
    stop: Callable[[], None],
) -> asyncio.Task[None]:
    """Run ``work`` beside the receive loop. It is never to end while the worker runs
    (``stopping`` unset): if it does, by an error or not, that is logged and ``stop`` is
    called, loudly."""
    task = asyncio.create_task(work, name=f"{identity}: {what}")

    def ended(task: asyncio.Task[None]) -> None:
        if task.cancelled() or stopping.is_set():
            return
        log.critical(
            "worker %s: %s ended unexpectedly; stopping the worker",
            identity,
            what,
            exc_info=task.exception(),
        )
        stop()

    task.add_done_callback(ended)
    return task


async def stop_all(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def sweep_forever(sweeper: Sweeper, interval: timedelta, *, identity: str) -> None:
    """Sweep every ``interval``. A sweep that fails is logged and tried again after the
    interval: one error never ends the sweeping for the worker's life."""
    pause = interval.total_seconds()
    while True:
        try:
            await sweeper.sweep()
        except Exception:
            log.exception("worker %s: the sweep failed; it runs again in %ss", identity, pause)
        await asyncio.sleep(pause)


async def repeat_forever(periodic: Periodic, *, identity: str) -> None:
    """Run ``periodic`` every ``periodic.every``. A pass that fails is logged and run again
    after the interval: one error never ends it for the worker's life."""
    pause = periodic.every.total_seconds()
    while True:
        try:
            await periodic.run()
        except Exception:
            log.exception(
                "worker %s: %s failed; it runs again in %ss", identity, periodic.what, pause
            )
        await asyncio.sleep(pause)
