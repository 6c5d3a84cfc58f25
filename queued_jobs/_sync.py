"""Sync access to the async core: an event loop on a thread of its own, and the base of the
sync twins (:class:`~queued_jobs.sync_client.SyncJobClient`,
:class:`~queued_jobs.tracker.SyncJobTracker`).

A twin builds its async object *inside* its loop, so that connections which bind to the
loop that made them (aiohttp sessions under the Azure ``.aio`` clients) keep working, and
then runs every call there with :meth:`BackgroundLoop.run`. The logic lives once, in the
async object; a twin method is one line (:func:`blocking`).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar

__all__ = ["BackgroundLoop", "LoopBound", "SyncTwin", "blocking"]

T = TypeVar("T")
P = ParamSpec("P")


class BackgroundLoop:
    """An asyncio event loop running on a daemon thread of its own.

    :meth:`run` hands it a coroutine and waits for the result (or the exception). Close it
    when done (or use ``with``): that cancels what is still running there, stops the loop
    and joins the thread. Any thread may call :meth:`run`, except the loop's own thread,
    which would wait forever for itself.
    """

    def __init__(self, *, name: str = "queued-jobs-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and return its result; its exception is raised here.

        If the waiting thread is interrupted (``KeyboardInterrupt``), the coroutine is
        cancelled. Raises ``RuntimeError`` when called from the loop's own thread (async
        code there must ``await`` instead) or after :meth:`close`.
        """
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                f"{self._thread.name}: a sync call was made from inside its own event loop, "
                "which would wait forever for itself; in async code use the async API "
                "(JobClient, JobTracker) and await it"
            )
        with self._lock:
            if self._closed:
                coro.close()
                raise RuntimeError(f"{self._thread.name}: the event loop is closed")
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # interrupted while waiting: stop the coroutine too
            raise

    def close(self) -> None:
        """Cancel what still runs on the loop, stop it and join its thread. Idempotent."""
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"{self._thread.name}: cannot close the loop from inside it")
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            try:
                self._shut_down()
            finally:
                asyncio.set_event_loop(None)
                self._loop.close()

    def _shut_down(self) -> None:
        """What ``asyncio.run`` does on the way out: cancel the tasks left, then finish
        async generators and the default executor."""
        loop = self._loop
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())


A = TypeVar("A")


class LoopBound(Generic[A]):
    """An async object and the :class:`BackgroundLoop` it lives on; :func:`blocking`
    methods of a subclass run the object's coroutines there."""

    def __init__(self, loop: BackgroundLoop, target: A) -> None:
        self._loop = loop
        self._target = target


def blocking(
    method: Callable[Concatenate[A, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[LoopBound[A], P], T]:
    """A sync method that runs the async ``method`` of the target on its loop, with the same
    parameters and docstring: ``queue_job = blocking(JobClient.queue_job)``."""

    @functools.wraps(method, assigned=("__module__", "__name__", "__doc__"))
    def call(self: LoopBound[A], /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._loop.run(method(self._target, *args, **kwargs))

    return call


class _Closable(Protocol):
    async def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


async def _build(factory: Callable[[], C]) -> C:
    return factory()


class SyncTwin(LoopBound[C]):
    """The sync twin of an async object with a ``close()`` coroutine: builds it with
    ``factory`` on a :class:`BackgroundLoop` of its own, so that its connections belong to
    that loop, and runs its :func:`blocking` methods there.

    :meth:`close` (or leaving a ``with`` block) closes the object, then the loop.
    """

    def __init__(self, factory: Callable[[], C], *, name: str) -> None:
        loop = BackgroundLoop(name=name)
        try:
            target = loop.run(_build(factory))
        except BaseException:
            loop.close()
            raise
        super().__init__(loop, target)

    def close(self) -> None:
        """Close the async object, then stop the loop. Idempotent."""
        if self._loop.closed:
            return
        try:
            self._loop.run(self._target.close())
        finally:
            self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
