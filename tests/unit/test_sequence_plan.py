"""The rules of a sequence as pure functions of its record: when a step is over and what
it came to, where its action leads, the loop guards, and the bounds of the record."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from queued_jobs.errors import InvalidSequence
from queued_jobs.models import JobStatus, new_job_id
from queued_jobs.sequences import Outcome, Sequence, SequenceStatus, Step, parse_action
from queued_jobs.sequences._plan import (
    MAX_STARTS_PER_ADVANCE,
    fitted,
    progress,
    record_status,
    step_outcome,
)
from queued_jobs.sequences.model import MAX_SEQUENCE_BYTES, sequence_json

NOW = datetime(2030, 1, 1, tzinfo=UTC)
S, F, C = JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED


def made(steps: list[dict[str, Any]], **options: Any) -> Sequence:
    return Sequence.new(owner="ada", name="n", steps=steps, now=NOW, **options)


def jobs(count: int, **step: Any) -> dict[str, Any]:
    return {"jobs": [{"job_type": "t"}] * count, **step}


def started(sequence: Sequence) -> Sequence:
    return progress(sequence, NOW, new_job_id).sequence


def ended_with(sequence: Sequence, *statuses: JobStatus) -> Sequence:
    for job, status in zip(sequence.runs[-1].jobs, statuses, strict=False):
        sequence = record_status(sequence, job.job_id, status) or sequence
    return progress(sequence, NOW, new_job_id).sequence


@pytest.mark.parametrize(
    ("exit", "statuses", "outcome"),
    [
        ("wait_all", (S, S), Outcome.SUCCESS),
        ("wait_all", (S, F), Outcome.MIXED),
        ("wait_all", (C, F), Outcome.FAILURE),
        ("wait_all", (S, None), None),
        ("wait_any", (None, S), Outcome.SUCCESS),
        ("wait_any", (F, None), None),
        ("wait_any", (F, C), Outcome.FAILURE),
        ("fire_and_forget", (None, None), Outcome.SUCCESS),
    ],
)
def test_a_steps_exit_rule_says_when_it_is_over_and_what_it_came_to(
    exit: str, statuses: tuple[JobStatus | None, ...], outcome: Outcome | None
) -> None:
    sequence = started(made([jobs(2, exit=exit)]))
    run = sequence.runs[-1]
    for job, status in zip(run.jobs, statuses, strict=True):
        if status is not None:
            run = run.model_copy(
                update={
                    "jobs": tuple(
                        j.model_copy(update={"status": status}) if j is job else j for j in run.jobs
                    )
                }
            )

    assert step_outcome(Step.model_validate(jobs(2, exit=exit)), run) == outcome


def test_next_after_the_last_step_succeeds_and_an_end_action_names_its_step() -> None:
    assert ended_with(started(made([jobs(1)])), S).status is SequenceStatus.SUCCEEDED
    failed = ended_with(started(made([jobs(2)])), S, F)
    assert (failed.status, failed.reason) == (
        SequenceStatus.FAILED,
        "step 0 ended with mixed: end:failed",
    )
    cancelled = ended_with(started(made([jobs(1, on_failure="end:cancelled")])), F)
    assert cancelled.status is SequenceStatus.CANCELLED


def test_a_repeated_or_foreign_completion_records_nothing() -> None:
    sequence = started(made([jobs(2)]))
    first = sequence.runs[0].jobs[0].job_id
    once = record_status(sequence, first, S)

    assert once is not None
    assert record_status(once, first, F) is None
    assert record_status(once, new_job_id("ada"), S) is None
    assert record_status(sequence, first, JobStatus.RUNNING) is None


def test_fire_and_forget_steps_chain_in_one_advance_and_a_loop_of_them_is_stopped() -> None:
    chained = progress(
        made([jobs(1, exit="fire_and_forget"), jobs(1, exit="fire_and_forget"), jobs(1)]),
        NOW,
        new_job_id,
    )
    assert [r.step for r in chained.started] == [0, 1, 2]
    assert chained.sequence.status is SequenceStatus.RUNNING

    looping = progress(
        made([jobs(1, exit="fire_and_forget", on_success="goto:0")], max_iterations=1000),
        NOW,
        new_job_id,
    )
    assert len(looping.started) == MAX_STARTS_PER_ADVANCE
    assert looping.sequence.status is SequenceStatus.FAILED
    assert "without waiting" in (looping.sequence.reason or "")


def test_a_step_that_passes_results_on_names_the_run_before_and_its_ended_jobs() -> None:
    sequence = started(made([jobs(2, exit="wait_any"), jobs(1, pass_results=True)]))
    first = sequence.runs[0]
    moved = ended_with(sequence, S)

    second = moved.runs[1]
    assert (second.previous, second.passed) == (first.number, (first.jobs[0].job_id,))


def test_an_oversized_record_lets_its_oldest_runs_go_but_keeps_the_last_two() -> None:
    sequence = started(made([jobs(100, on_failure="goto:0")], max_iterations=1000))
    for _ in range(40):
        sequence = ended_with(sequence, *itertools.repeat(F, 100))

    assert len(sequence_json(sequence)) <= MAX_SEQUENCE_BYTES
    assert sequence.runs_dropped > 0
    assert sequence.runs[-1].number == sequence.runs_dropped + len(sequence.runs) - 1
    assert fitted(sequence) == sequence


@pytest.mark.parametrize(
    ("text", "said"),
    [("goto:-1", "no action"), ("goto:1000", "no action"), ("end:done", "no action")],
)
def test_an_action_that_is_none_is_refused(text: str, said: str) -> None:
    with pytest.raises(InvalidSequence, match=said):
        parse_action(text)
    with pytest.raises(InvalidSequence, match=said):
        made([jobs(1, on_success=text)])
