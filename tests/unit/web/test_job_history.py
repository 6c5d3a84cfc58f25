"""A job's history read off its record and attempts, for the lives the HTTP tests do not
reach quickly: a takeover, a shutdown, a timeout, a cancellation while running, a retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from queued_jobs.models import Attempt, AttemptOutcome, JobError, JobStatus, QueuedJob
from queued_jobs.web._history import job_history
from queued_jobs.web.schemas import HistoryItem

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def job(**changes: object) -> QueuedJob:
    return QueuedJob.new(owner="ada", job_type="reports.render", now=T0).model_copy(update=changes)


def attempt(
    made: QueuedJob, number: int, start: float, end: float | None, outcome: AttemptOutcome
) -> Attempt:
    error = None
    if outcome in (AttemptOutcome.FAILED, AttemptOutcome.TIMED_OUT, AttemptOutcome.ABANDONED):
        error = JobError(type="RuntimeError", message=f"attempt {number} went wrong")
    return Attempt(
        job_id=made.id,
        number=number,
        started_at=at(start),
        ended_at=None if end is None else at(end),
        outcome=outcome,
        error=error,
        host=f"host-{number}",
    )


def steps(history: list[HistoryItem]) -> list[tuple[str, float, int | None]]:
    return [(i.status, (i.at - T0).total_seconds(), i.attempt) for i in history]


def test_a_takeover_follows_an_abandoned_attempt_without_a_queued_step() -> None:
    done = job(status=JobStatus.SUCCEEDED, attempts=2, completed_at=at(9))
    history = job_history(
        done,
        [
            attempt(done, 1, 1, 6, AttemptOutcome.ABANDONED),
            attempt(done, 2, 6, 9, AttemptOutcome.SUCCEEDED),
        ],
        now=at(10),
    )
    assert steps(history) == [
        ("queued", 0, None),
        ("running", 1, 1),
        ("abandoned", 6, 1),
        ("running", 6, 2),
        ("succeeded", 9, 2),
    ]
    assert history[2].detail == "attempt 1 went wrong"
    assert [i.host for i in history] == [None, "host-1", "host-1", "host-2", "host-2"]


def test_a_timeout_that_used_the_last_attempt_ends_in_the_job_s_failure() -> None:
    failed = job(
        status=JobStatus.FAILED,
        attempts=1,
        completed_at=at(5),
        error=JobError(type="queued_jobs.JobTimedOut", message="ran past 4 s"),
    )
    history = job_history(failed, [attempt(failed, 1, 1, 5, AttemptOutcome.TIMED_OUT)], now=at(6))
    assert steps(history) == [
        ("queued", 0, None),
        ("running", 1, 1),
        ("timed_out", 5, 1),
        ("failed", 5, None),
    ]
    assert history[-1].detail == "ran past 4 s"


def test_a_released_attempt_and_a_retry_due_later_wait_again() -> None:
    waiting = job(status=JobStatus.QUEUED, attempts=2, run_at=at(30))
    history = job_history(
        waiting,
        [
            attempt(waiting, 1, 1, 2, AttemptOutcome.RELEASED),
            attempt(waiting, 2, 3, 4, AttemptOutcome.FAILED),
        ],
        now=at(5),
    )
    assert steps(history) == [
        ("queued", 0, None),
        ("running", 1, 1),
        ("released", 2, 1),
        ("queued", 2, 2),
        ("running", 3, 2),
        ("failed", 4, 2),
        ("queued", 4, 3),
    ]
    assert history[-1].detail == "retry at 2030-01-01 00:00:30 UTC"
    assert "handed back" in str(history[2].detail)


def test_the_attempt_running_now_and_a_cancellation_it_has_not_seen_yet() -> None:
    running = job(
        status=JobStatus.RUNNING,
        attempts=1,
        started_at=at(1),
        attempt_started_at=at(1),
        lease_owner="host-9",
        lease_expires_at=at(100),
        cancel_requested=True,
        updated_at=at(3),
    )
    history = job_history(running, [], now=at(4))
    assert steps(history) == [("queued", 0, None), ("running", 1, 1), ("cancel_requested", 3, 1)]
    assert history[1].host == "host-9"
    assert history[1].detail is None
    stale = job_history(running, [], now=at(200))
    assert "waits to be taken over" in str(stale[1].detail)


def test_a_cancellation_seen_by_its_attempt_comes_just_before_the_end() -> None:
    cancelled = job(
        status=JobStatus.CANCELLED, attempts=1, completed_at=at(4), cancel_requested=True
    )
    history = job_history(
        cancelled, [attempt(cancelled, 1, 1, 4, AttemptOutcome.CANCELLED)], now=at(5)
    )
    assert steps(history) == [
        ("queued", 0, None),
        ("running", 1, 1),
        ("cancel_requested", 4, 1),
        ("cancelled", 4, 1),
    ]


def test_a_job_created_far_ahead_starts_scheduled_and_an_attempt_recorded_twice_counts_once() -> (
    None
):
    later = job(status=JobStatus.SCHEDULED, run_at=at(30 * 24 * 3600))
    [created] = job_history(later, [], now=at(1))
    assert (created.status, created.detail) == (
        "scheduled",
        "created to run at 2030-01-31 00:00:00 UTC",
    )
    done = job(status=JobStatus.SUCCEEDED, attempts=1, completed_at=at(3))
    twice = [
        attempt(done, 1, 1, 2, AttemptOutcome.ABANDONED),
        attempt(done, 1, 1, 3, AttemptOutcome.SUCCEEDED),
    ]
    assert steps(job_history(done, twice, now=at(4))) == [
        ("queued", 0, None),
        ("running", 1, 1),
        ("succeeded", 3, 1),
    ]
