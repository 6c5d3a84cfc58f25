"""What the counting routes (``/stats``, ``/stats/timeline``) share: counts that stop at
:data:`COUNT_LIMIT`, and answers reused for a few seconds, each bounded in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from pydantic import BaseModel

from ...client import JobClient
from ...errors import StorageUnavailable
from ...repositories.base import JobQuery
from .._runtime import Runtime

__all__ = ["COUNT_LIMIT", "PATIENCE", "Count", "cached", "count", "failure_rate"]

T = TypeVar("T")
#: A count stops after this many jobs (and says ``more``).
COUNT_LIMIT: Final = 10_000
#: An answer is reused this long (per route and filters).
_FRESH: Final = 10.0
#: The most an answer may take (``503`` past it).
PATIENCE: Final = 30.0
#: Answers kept at most (all dropped past it: a cache, not a store).
_KEPT: Final = 1000


class Count(BaseModel):
    count: int
    #: There are more than ``count``.
    more: bool


async def count(client: JobClient, query: JobQuery) -> Count:
    found = await client.repository.count_jobs(query, at_most=COUNT_LIMIT)
    return Count(count=min(found, COUNT_LIMIT), more=found > COUNT_LIMIT)


def failure_rate(succeeded: Count, failed: Count) -> float | None:
    """failed / (succeeded + failed); ``None`` with neither."""
    ended = succeeded.count + failed.count
    return failed.count / ended if ended else None


async def cached(
    runtime: Runtime,
    key: tuple[str | None, ...],
    kind: type[T],
    make: Callable[[], Awaitable[T]],
) -> T:
    """The answer ``make()`` gives, reused for a few seconds under ``key``;
    ``StorageUnavailable`` if it takes more than :data:`PATIENCE` seconds."""
    cache = runtime.stats_cache
    kept = cache.get(key)
    if kept is not None and time.monotonic() - kept[0] < _FRESH and isinstance(kept[1], kind):
        return kept[1]
    try:
        async with asyncio.timeout(PATIENCE):
            answer = await make()
    except TimeoutError:
        raise StorageUnavailable(f"the counts took more than {PATIENCE:.0f} s; try later") from None
    if len(cache) > _KEPT:
        cache.clear()
    cache[key] = (time.monotonic(), answer)
    return answer
