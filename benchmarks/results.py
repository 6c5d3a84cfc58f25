"""One measured figure, repeated: what every scenario returns and the report reads."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Measurement"]


@dataclass
class Measurement:
    """``runs`` values of one figure (e.g. jobs/s) of one system in one scenario."""

    scenario: str  # "drain", "enqueue", "latency p50", "requests per job", ...
    system: str  # "queued-jobs (SQLite)", "raw Azure SDK", "huey (Redis)", ...
    unit: str  # "jobs/s", "ms", "requests/job", "requests/s"
    runs: list[float] = field(default_factory=list)
    #: Scenario parameters worth showing (concurrency, jobs, batch size...).
    params: dict[str, Any] = field(default_factory=dict)
    #: Why there is no figure (a peer that failed to install, say), if there is none.
    error: str | None = None
    #: For percentiles: the figure over every run's samples together, reported instead of
    #: the median of the runs' own figures.
    pooled: float | None = None

    @property
    def median(self) -> float | None:
        if self.pooled is not None:
            return self.pooled
        return statistics.median(self.runs) if self.runs else None

    @property
    def low(self) -> float | None:
        return min(self.runs) if self.runs else None

    @property
    def high(self) -> float | None:
        return max(self.runs) if self.runs else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "median": self.median, "min": self.low, "max": self.high}
