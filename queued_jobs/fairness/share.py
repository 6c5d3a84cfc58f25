"""The owner share: how many of one owner's jobs may wait in the ready queues at once.

Without it one owner's backlog fills the queues, and a job of anyone else waits behind
all of it. With ``ExecutionSettings(owner_share=OwnerShare(100))``, each owner has at most
100 jobs queued in the ready queues (the priority bands) that have not started yet; the
owner's jobs beyond that go to the application's **overflow queue** (``<base>-over``),
which every host drains too, but after the bands. A job of a small owner therefore waits
behind at most ``queued`` jobs of each other owner, never behind a whole backlog.
``docs/limits.md`` ("Fairness between owners") tells the whole story.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from ..errors import ConfigurationError
from ..limits.definitions import ConcurrencyLimit, by_owner
from ..limits.model import MAX_CAPACITY

__all__ = ["OVERFLOW_SUFFIX", "SHARE_LIMIT", "OwnerShare", "is_overflow"]

#: The name of the limit that keeps the owners' places in the ready queues (one gate per
#: owner). An application's own limits may not take it.
SHARE_LIMIT: Final = "owner-share"
#: The overflow queue's name is the base queue name and this.
OVERFLOW_SUFFIX: Final = "-over"
_SHORTEST_HOLD: Final = timedelta(seconds=1)
_LONGEST_HOLD: Final = timedelta(days=1)


def is_overflow(queue: str) -> bool:
    """Whether ``queue`` is an overflow queue (its jobs hold no place)."""
    return queue.endswith(OVERFLOW_SUFFIX)


@dataclass(frozen=True, slots=True)
class OwnerShare:
    """At most ``queued`` jobs of one owner wait in the ready queues at once; the rest
    go to the overflow queue.

    A job takes its owner's place as it is queued (or, if it is scheduled beyond a
    queue's longest delay, when the sweep queues it) and gives it back when a worker
    claims it. A place whose job never comes (its message lost, its enqueuer killed)
    is free again after ``hold`` past the job's time (its ``run_at``, or the enqueue).
    The number can be changed at run time like any limit's capacity (the limit is named
    :data:`SHARE_LIMIT`).
    """

    queued: int = 100
    hold: timedelta = timedelta(minutes=30)
    limit: ConcurrencyLimit = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.queued, bool) or not isinstance(self.queued, int):
            raise ConfigurationError(f"the owner share is a whole number, not {self.queued!r}")
        if not 1 <= self.queued <= MAX_CAPACITY:
            raise ConfigurationError(
                f"the owner share is 1 to {MAX_CAPACITY} jobs, not {self.queued}"
            )
        if not isinstance(self.hold, timedelta) or not (
            _SHORTEST_HOLD <= self.hold <= _LONGEST_HOLD
        ):
            raise ConfigurationError(f"the owner share's hold is 1 s to 1 day, not {self.hold!r}")
        object.__setattr__(self, "limit", ConcurrencyLimit(SHARE_LIMIT, self.queued, key=by_owner))
