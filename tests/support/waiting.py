"""Waiting on conditions instead of sleeping: bounds generous enough for a busy machine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

#: How long a test waits for something that takes milliseconds on a quiet machine.
PATIENCE = 30.0
_POLL = 0.005


async def until(condition: Callable[[], bool], what: str, *, within: float = PATIENCE) -> None:
    """Return once ``condition()`` holds; fail the test naming ``what`` after ``within``
    seconds. For conditions nothing signals (a count in a wrapper, a loop's state)."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(_POLL)


async def forever() -> None:
    """Code that never ends by itself (a hung job or hook): waits on what never comes, until
    it is cancelled."""
    await asyncio.Event().wait()
