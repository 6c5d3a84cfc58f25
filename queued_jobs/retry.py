"""How long to wait before the next attempt: exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

__all__ = ["DEFAULT_RETRY", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempt ``n`` failed: wait ``first * factor**(n-1)``, at most ``longest``, then
    spread by ``±jitter`` (a fraction) so that jobs failing together retry apart."""

    first: timedelta = timedelta(seconds=5)
    factor: float = 2.0
    longest: timedelta = timedelta(hours=1)
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.first <= timedelta(0) or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError(
                "a retry policy needs first > 0, factor >= 1 and 0 <= jitter < 1, "
                f"not {self.first}, {self.factor}, {self.jitter}"
            )

    def nominal_delay(self, failed_attempt: int) -> timedelta:
        """The delay after attempt ``failed_attempt`` (from 1), before jitter."""
        growth = self.factor ** max(failed_attempt - 1, 0)
        return min(self.first * growth, self.longest)

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> timedelta:
        """The delay after attempt ``failed_attempt`` (from 1), jittered."""
        spread = (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        return self.nominal_delay(failed_attempt) * spread


DEFAULT_RETRY = RetryPolicy()
