"""The queues of an application: one per priority band, each with its side queues
(``-poison`` for the Functions host, ``-deadletter`` for what is given up on)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from ._names import MAX_QUEUE_NAME, queue_name_problem
from .errors import ConfigurationError
from .fairness.share import OVERFLOW_SUFFIX, is_overflow
from .models import Priority
from .queues.base import DEAD_LETTER_SUFFIX, POISON_SUFFIX, QueueBroker

__all__ = ["DEAD_LETTER_SUFFIX", "MAX_BASE_NAME", "POISON_SUFFIX", "QueueNames", "dead_letters_of"]

_SUFFIX = {Priority.HIGH: "-high", Priority.NORMAL: "", Priority.LOW: "-low"}
#: The longest base name: every queue made from it, ``<base>-high-deadletter`` the
#: longest, is still a valid queue name.
MAX_BASE_NAME: Final = MAX_QUEUE_NAME - len(_SUFFIX[Priority.HIGH]) - len(DEAD_LETTER_SUFFIX)


@dataclass(frozen=True, slots=True)
class QueueNames:
    """``base`` names the normal band; ``<base>-high`` and ``<base>-low`` the others."""

    base: str = "jobs"

    def __post_init__(self) -> None:
        problem = queue_name_problem(self.base, max_len=MAX_BASE_NAME)
        if problem:
            raise ConfigurationError(problem)

    @classmethod
    def from_setting(cls, setting: str = "QUEUED_JOBS_QUEUE", default: str = "jobs") -> QueueNames:
        """The base name from the environment variable (app setting) ``setting``."""
        return cls(os.environ.get(setting) or default)

    def for_priority(self, priority: Priority) -> str:
        return self.base + _SUFFIX[priority]

    @property
    def overflow(self) -> str:
        """The overflow queue: owners' jobs beyond their share of the ready queues
        (``ExecutionSettings.owner_share``), drained after the bands."""
        return self.base + OVERFLOW_SUFFIX

    @property
    def bands(self) -> list[str]:
        """Every band's queue, most urgent first."""
        return [self.for_priority(p) for p in (Priority.HIGH, Priority.NORMAL, Priority.LOW)]

    async def create(self, broker: QueueBroker) -> None:
        """Create every band's queue, poison queue and dead-letter queue that is missing."""
        for name in [*self.bands, self.overflow]:
            await broker.queue(name).create()


def dead_letters_of(queue: str) -> str:
    """The dead-letter queue of the job queue ``queue``: its own ``-deadletter`` queue,
    but the normal band's for the overflow queue, so that the tools that list each band's
    dead letters show the overflow queue's too."""
    base = queue.removesuffix(OVERFLOW_SUFFIX) if is_overflow(queue) else queue
    return base + DEAD_LETTER_SUFFIX
