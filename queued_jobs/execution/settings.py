"""Knobs of the execution pipeline, with the defaults production wants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..fairness.share import OwnerShare
from ..retry import DEFAULT_RETRY, RetryPolicy
from ..telemetry import Telemetry, default_telemetry

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
    #: How long one call of a hook (a listener, ``on_status_updated``, ``before``, ``after``,
    #: ``on_success``, ``on_error``, ``on_failure``, ``on_halt``) may take. Past it the hook
    #: is cancelled (and left running, detached and logged, if it does not end within a
    #: second more); the job goes on without it. ``None``: a third of the lease. It must be
    #: shorter than the lease, so that no hook outlives the lease it runs under.
    hook_timeout: timedelta | None = None
    #: How long the change feed keeps a change: the sweep's full pass (about once an hour)
    #: purges older ones (``JobRepository.purge_changes``). A reader away for longer
    #: reads the jobs again instead of their changes.
    change_retention: timedelta = timedelta(hours=24)
    #: Fairness between owners: at most this many of one owner's jobs wait in the ready
    #: queues at once, the rest in the overflow queue (``queued_jobs.fairness``).
    #: ``None``: no share; every job goes to its band's queue.
    owner_share: OwnerShare | None = None
    #: Where the jobs' spans and metrics go (``queued_jobs.telemetry``). ``None``: the
    #: OpenTelemetry providers the application configured globally (none: nothing kept).
    telemetry: Telemetry | None = None

    def __post_init__(self) -> None:
        if self.owner_share is not None and not isinstance(self.owner_share, OwnerShare):
            raise ValueError(f"owner_share is an OwnerShare, not {self.owner_share!r:.80}")
        if self.uncharged_abandons < 0:
            raise ValueError("uncharged_abandons must be 0 or more")
        if self.spread_suspects < timedelta(0):
            raise ValueError("spread_suspects must not be negative")
        if self.stop_timeout < timedelta(0):
            raise ValueError("stop_timeout must be 0 or more")
        if self.change_retention <= timedelta(0):
            raise ValueError("change_retention must be more than 0")
        if self.hook_timeout is not None and not timedelta(0) < self.hook_timeout < self.lease:
            raise ValueError(
                f"hook_timeout must be more than 0 and less than the lease ({self.lease}); "
                f"got {self.hook_timeout}"
            )

    @property
    def tracing(self) -> Telemetry:
        """The telemetry in use: ``telemetry``, or the global providers'."""
        return self.telemetry or default_telemetry()

    @property
    def heartbeat_interval(self) -> timedelta:
        return self.heartbeat or self.lease / 3

    @property
    def hook_seconds(self) -> float:
        """The bound of one hook call, in seconds."""
        return (self.hook_timeout or self.lease / 3).total_seconds()
