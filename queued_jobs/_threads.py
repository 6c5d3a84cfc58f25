"""Synchronous job code in a thread of its own, awaited until that thread really ends."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

__all__ = ["in_thread"]

T = TypeVar("T")


def _settle(future: asyncio.Future[tuple[bool, Any]], outcome: tuple[bool, Any]) -> None:
    if not future.done():
        future.set_result(outcome)


async def in_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a new daemon thread (in the caller's context variables).

    Unlike ``asyncio.to_thread``, cancelling the caller does not pretend to stop the code:
    nothing can stop a thread, so the caller stays cancelled-but-waiting until the thread
    ends, and then raises ``CancelledError``. Whoever waits for the caller thus knows when
    the code really stopped. The thread is a daemon, not one of the event loop's executor
    threads, so a process that exits does not wait for it (that is what ends it).
    """
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[tuple[bool, Any]] = loop.create_future()
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome: tuple[bool, Any] = (True, context.run(function, *args))
        except BaseException as exc:  # handed to the caller, which decides what it means
            outcome = (False, exc)
        with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_settle, ended, outcome)

    name = getattr(function, "__qualname__", "job")
    threading.Thread(target=target, name=f"queued-jobs: {name}", daemon=True).start()
    cancelled = False
    while True:
        try:
            ok, value = await asyncio.shield(ended)
            break
        except asyncio.CancelledError:
            cancelled = True  # the thread runs on: keep waiting for it
    if cancelled:
        raise asyncio.CancelledError
    if ok:
        return value  # type: ignore[no-any-return]
    raise value
