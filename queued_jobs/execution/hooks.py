"""Calling user hooks (listeners and a runner's ``on_status_updated``, ``before``, ``after``,
``on_success``, ``on_error``, ``on_failure``, ``on_halt``): whatever one does, it is logged
and never changes a job's stored state, nor ends or wedges the worker.

- A hook that raises anything (``SystemExit`` and ``KeyboardInterrupt`` included) is logged.
- Each call is bounded by ``ExecutionSettings.hook_timeout``: past it the hook is cancelled;
  one that still does not end (it swallows ``CancelledError``, or is a plain ``def`` stuck in
  its thread) is left running, detached (see :mod:`.detached`), and the pipeline goes on.
- A hook may be a plain ``def``: it runs in a thread of its own, like a plain ``def`` job,
  so that it cannot block the event loop.
- The no-op hooks of :class:`~queued_jobs.runner.JobRunner` are not called at all: a runner
  that overrides none of them costs nothing.

Cancelling the caller (a worker that gives up on a job) cancels the hook it is waiting for
and goes on up.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Final

from .._threads import in_thread
from ..context import JobContext
from ..models import QueuedJob
from ..runner import JobRunner
from ..telemetry.logs import library_logger
from .detached import detach_hook

__all__ = ["call_hook", "is_noop"]

log = library_logger("queued_jobs.execution")
_HOOKS: Final = (
    "on_status_updated",
    "before",
    "after",
    "on_success",
    "on_error",
    "on_failure",
    "on_halt",
)
_NOOPS: Final = frozenset(getattr(JobRunner, name) for name in _HOOKS)
#: How long a hook cancelled at its bound gets to end before it is left detached.
_AFTER_CANCEL: Final = 1.0


def is_noop(hook: Callable[..., Any]) -> bool:
    """Whether ``hook`` is one of :class:`JobRunner`'s own no-op hooks (not overridden)."""
    return getattr(hook, "__func__", None) in _NOOPS


async def call_hook(hook: Callable[..., Awaitable[None]], *args: Any, seconds: float) -> None:
    """``await hook(*args)``, bounded by ``seconds``; it never raises, except the
    cancellation of the caller itself."""
    if is_noop(hook):
        return
    name = _name(hook)
    call = asyncio.create_task(_guarded(hook, args, name), name=f"hook {name}")
    try:
        await asyncio.wait({call}, timeout=seconds)
        if call.done():
            if call.cancelled():
                log.error("hook %s (job %s) was cancelled; ignored", name, _job_id(args))
            return
        call.cancel()
        await asyncio.wait({call}, timeout=min(_AFTER_CANCEL, seconds))
    except asyncio.CancelledError:
        if not call.done():
            call.cancel()
            detach_hook(call, name, _job_id(args), "")  # kept until it ends, quietly
        raise
    why = f"it ran longer than its bound of {seconds:g}s (ExecutionSettings.hook_timeout)"
    if call.done():
        log.error("hook %s (job %s) was cancelled: %s", name, _job_id(args), why)
    else:
        detach_hook(call, name, _job_id(args), why)


async def _guarded(hook: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
    try:
        if _is_async(hook):
            await hook(*args)
        else:
            returned = await in_thread(hook, *args)
            if inspect.isawaitable(returned):  # a plain callable that returned a coroutine
                await returned
    except asyncio.CancelledError:
        raise
    except BaseException:  # SystemExit, KeyboardInterrupt too: a hook never ends its worker
        log.exception(
            "hook %s (job %s) failed; the job's stored state is unchanged", name, _job_id(args)
        )


def _is_async(hook: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(type(hook).__call__)


def _name(hook: Callable[..., Any]) -> str:
    return getattr(hook, "__qualname__", None) or repr(hook)


def _job_id(args: tuple[Any, ...]) -> str | None:
    for arg in args:
        if isinstance(arg, QueuedJob):
            return arg.id
        if isinstance(arg, JobContext):
            return arg.job.id
    return None
