"""Calling user hooks: their failures are logged and never change a job's stored state."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["call_hook"]

log = logging.getLogger("queued_jobs.execution")


async def call_hook(hook: Callable[..., Awaitable[None]], *args: Any) -> None:
    try:
        await hook(*args)
    except Exception:
        log.exception("hook %s failed; the job's stored state is unchanged", hook)
