"""Knobs of the execution pipeline, with the defaults production wants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..retry import DEFAULT_RETRY, RetryPolicy

__all__ = ["ExecutionSettings"]


@dataclass(frozen=True, slots=True)
class ExecutionSettings:
    #: How long a claimed job (and its queue message) stays ours without a renewal. A worker
    #: that dies is replaced after at most this long.
    lease: timedelta = timedelta(seconds=60)
    #: How often a running attempt renews its lease and looks for a cancellation request.
    #: ``None``: a third of the lease.
    heartbeat: timedelta | None = None
    #: Progress reports are written at most this often (the latest always wins).
    progress_interval: timedelta = timedelta(seconds=1)
    #: Retry delays for job types that don't set their own policy.
    retry: RetryPolicy = DEFAULT_RETRY
    #: A queued job whose record hasn't changed for this long gets its message sent again
    #: by the sweep (it may have been lost between storing the job and sending it).
    resend_after: timedelta = timedelta(minutes=10)
    #: Abandoned attempts (their worker died) that ran beside other jobs are not charged to
    #: the job: a neighbour, or an operator, may have killed the worker. At most this many
    #: per job go free; later ones count against ``max_attempts`` too, so a job that keeps
    #: killing workers where it cannot run alone still ends.
    uncharged_abandons: int = 3
    #: Where a host cannot run a job alone (Azure Functions), a job taken over from a dead
    #: worker is queued again with a random delay up to this long, so that the jobs of one
    #: dead worker do not land in one batch again.
    spread_suspects: timedelta = timedelta(seconds=30)

    #: How long a job's code gets to end once it is told to stop (cancelled, past its max
    #: run time, halted by a stopping worker). Code that does not end by then (it swallows
    #: ``CancelledError``; a plain ``def`` that does not check ``cancellation_requested``) is
    #: left running, detached, and loudly logged; see ``docs/execution.md``.
    stop_timeout: timedelta = timedelta(seconds=5)

    def __post_init__(self) -> None:
        if self.uncharged_abandons < 0:
            raise ValueError("uncharged_abandons must be 0 or more")
        if self.spread_suspects < timedelta(0):
            raise ValueError("spread_suspects must not be negative")
        if self.stop_timeout < timedelta(0):
            raise ValueError("stop_timeout must be 0 or more")

    @property
    def heartbeat_interval(self) -> timedelta:
        return self.heartbeat or self.lease / 3
