"""The queues of an application: one per priority band, each with its poison queue."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from ._names import MAX_QUEUE_NAME, queue_name_problem
from .errors import ConfigurationError
from .models import Priority
from .queues.base import QueueBroker

__all__ = ["DEAD_LETTER_SUFFIX", "MAX_BASE_NAME", "QueueNames"]

_SUFFIX = {Priority.HIGH: "-high", Priority.NORMAL: "", Priority.LOW: "-low"}
#: The queue next to a band's where bodies that are not job messages are kept.
DEAD_LETTER_SUFFIX: Final = "-deadletter"
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
    def bands(self) -> list[str]:
        """Every band's queue, most urgent first."""
        return [self.for_priority(p) for p in (Priority.HIGH, Priority.NORMAL, Priority.LOW)]

    async def create(self, broker: QueueBroker) -> None:
        """Create every band's queue and poison queue that is missing."""
        for name in self.bands:
            await broker.queue(name).create()
