"""What ``status`` and ``list`` show of a job's times and progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console

from queued_jobs._cli_views import job_table, job_view, run_time, wall_time
from queued_jobs.models import Attempt, AttemptOutcome, JobStatus, Progress, QueuedJob

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def rendered(renderable: object) -> str:
    console = Console(width=200, record=True, highlight=False)
    console.print(renderable)
    return console.export_text()


def retried_job() -> tuple[QueuedJob, list[Attempt]]:
    """Failed twice (1.5 s each) with ten minutes of backoff between, then succeeded in 2 s."""
    job = QueuedJob.new(owner="ann", job_type="shop.bill", request=1, now=T0)
    starts = [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=15)]
    lengths = [1.5, 1.5, 2.0]
    outcomes = [AttemptOutcome.FAILED, AttemptOutcome.FAILED, AttemptOutcome.SUCCEEDED]
    attempts = [
        Attempt(
            job_id=job.id,
            number=number,
            started_at=start,
            ended_at=start + timedelta(seconds=length),
            outcome=outcome,
            host="box:1",
        )
        for number, (start, length, outcome) in enumerate(
            zip(starts, lengths, outcomes, strict=True), start=1
        )
    ]
    done = job.model_copy(
        update={
            "status": JobStatus.SUCCEEDED,
            "attempts": 3,
            "started_at": T0,
            "completed_at": attempts[-1].ended_at,
            "updated_at": attempts[-1].ended_at,
            "result": 1,
        }
    )
    return done, attempts


def test_a_retried_jobs_run_time_adds_up_its_attempts_without_the_backoff_waits() -> None:
    job, attempts = retried_job()
    assert run_time(attempts) == timedelta(seconds=5)
    assert wall_time(job) == timedelta(minutes=15, seconds=2)
    shown = rendered(job_view(job, attempts))
    assert "run time    5.0s in 3 attempts" in shown
    assert "wall time   15m 02s" in shown


def test_a_running_attempt_counts_up_to_now_and_an_unfinished_job_has_no_wall_time() -> None:
    job, attempts = retried_job()
    running = attempts[-1].model_copy(update={"ended_at": None})
    unfinished = job.model_copy(update={"status": JobStatus.RUNNING, "completed_at": None})
    now = running.started_at + timedelta(seconds=10)
    assert run_time([*attempts[:-1], running], now) == timedelta(seconds=13)
    assert wall_time(unfinished) is None
    assert run_time([]) is None


def test_the_listing_shows_each_jobs_progress_cut_to_its_column() -> None:
    job, _ = retried_job()
    moving = job.model_copy(
        update={
            "status": JobStatus.RUNNING,
            "completed_at": None,
            "progress": Progress(percent=42, message="copying\x1b[2J " + "x" * 500),
        }
    )
    shown = rendered(job_table([moving, job]))
    assert "progress" in shown.splitlines()[0]
    assert "42% copying\\x1b[2J xxx" in shown
    assert "x" * 60 not in shown
    assert "15m 02s" in shown
