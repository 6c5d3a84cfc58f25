"""The rules of a sequence as pure functions of its record: what a job's end records,
when a step is over and what it came to, where its action leads, and what is started
next. No I/O: the engine (``engine.py``) reads, plans with these, and writes.

A stored running sequence always has its current run (the last one, no outcome yet),
except before its first step starts: ending a run and starting the next happen in one
write (:func:`progress`), so a crash leaves either the old state or the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ..models import JobStatus
from .model import (
    MAX_RUNS_KEPT,
    MAX_SEQUENCE_BYTES,
    ExitRule,
    Outcome,
    Run,
    RunJob,
    Sequence,
    SequenceStatus,
    Step,
    sequence_json,
)

__all__ = [
    "MAX_STARTS_PER_ADVANCE",
    "Progress",
    "end",
    "fitted",
    "progress",
    "record_status",
    "step_outcome",
    "unknown_jobs",
]

#: Most runs one advance starts (a chain of fire-and-forget steps): past it the sequence
#: fails, since it loops without waiting for anything.
MAX_STARTS_PER_ADVANCE: Final = 32


@dataclass(frozen=True, slots=True)
class Progress:
    """What :func:`progress` made of a sequence: the new record and the runs it started
    (their jobs are to be stored and queued once the record is)."""

    sequence: Sequence
    started: tuple[Run, ...]


def step_outcome(step: Step, run: Run) -> Outcome | None:
    """What ``run`` of ``step`` came to by its exit rule, ``None`` while it is not over."""
    if step.exit is ExitRule.FIRE_AND_FORGET:
        return Outcome.SUCCESS
    statuses = [job.status for job in run.jobs]
    succeeded = sum(status is JobStatus.SUCCEEDED for status in statuses)
    if step.exit is ExitRule.WAIT_ANY and succeeded:
        return Outcome.SUCCESS
    if any(status is None for status in statuses):
        return None
    if succeeded == len(statuses):
        return Outcome.SUCCESS
    return Outcome.FAILURE if succeeded == 0 else Outcome.MIXED


def record_status(sequence: Sequence, job_id: str, status: JobStatus) -> Sequence | None:
    """``sequence`` with the final ``status`` of its job ``job_id`` recorded in its run;
    ``None`` if there is nothing to record (not its job, not final, known already)."""
    if not status.is_terminal:
        return None
    runs = list(sequence.runs)
    for index in range(len(runs) - 1, -1, -1):
        run = runs[index]
        if not run.holds(job_id):
            continue
        if run.job_status(job_id) is not None:
            return None
        jobs = tuple(
            RunJob(job_id=job.job_id, status=status) if job.job_id == job_id else job
            for job in run.jobs
        )
        runs[index] = run.model_copy(update={"jobs": jobs})
        return sequence.model_copy(update={"runs": tuple(runs)})
    return None


def end(
    sequence: Sequence, status: SequenceStatus, now: datetime, reason: str | None = None
) -> Sequence:
    """``sequence`` ended with ``status`` (and ``reason``)."""
    return sequence.model_copy(
        update={
            "status": status,
            "step": None,
            "reason": reason,
            "completed_at": now,
            "updated_at": now,
        }
    )


def _start(
    sequence: Sequence, step: int, now: datetime, new_id: Callable[[str], str]
) -> tuple[Sequence, Run | None]:
    """``sequence`` with a new run of ``step``, or ended by its loop guard."""
    counts = list(sequence.iterations or (0,) * len(sequence.steps))
    if counts[step] >= sequence.max_iterations:
        reason = (
            f"step {step} has run {counts[step]} times, as many as max_iterations "
            f"({sequence.max_iterations}) allows: the loop was stopped"
        )
        return end(sequence, SequenceStatus.FAILED, now, reason), None
    counts[step] += 1
    definition = sequence.steps[step]
    last = sequence.runs[-1] if sequence.runs else None
    previous = last if definition.pass_results and last is not None else None
    number = last.number + 1 if last is not None else sequence.runs_dropped
    run = Run(
        number=number,
        step=step,
        iteration=counts[step],
        jobs=tuple(RunJob(job_id=new_id(sequence.owner)) for _ in definition.jobs),
        previous=None if previous is None else previous.number,
        passed=()
        if previous is None
        else tuple(job.job_id for job in previous.jobs if job.status is not None),
        started_at=now,
    )
    changed = sequence.model_copy(
        update={
            "step": step,
            "iterations": tuple(counts),
            "runs": (*sequence.runs, run),
            "updated_at": now,
        }
    )
    return changed, run


def progress(sequence: Sequence, now: datetime, new_id: Callable[[str], str]) -> Progress:
    """Move ``sequence`` on as far as its recorded statuses allow: start its first step,
    end its current run if its exit rule says so, and follow the run's action (to the
    next step, another, or the end), as long as steps end at once (fire and forget)."""
    started: list[Run] = []
    current = sequence
    if current.status is SequenceStatus.RUNNING and not current.runs:
        assert current.step is not None
        current, run = _start(current, current.step, now, new_id)
        started += [run] if run is not None else []
    while current.status is SequenceStatus.RUNNING:
        last = current.runs[-1]
        step = current.steps[last.step]
        outcome = step_outcome(step, last)
        if outcome is None:
            break
        ended = last.model_copy(update={"outcome": outcome, "ended_at": now})
        current = current.model_copy(update={"runs": (*current.runs[:-1], ended)})
        action = step.action(outcome)
        if action.kind == "end":
            assert action.status is not None
            reason = None
            if action.status is not SequenceStatus.SUCCEEDED:
                reason = f"step {last.step} ended with {outcome.value}: end:{action.status.value}"
            current = end(current, action.status, now, reason)
            break
        target = last.step + 1 if action.kind == "next" else action.target
        assert target is not None
        if target >= len(current.steps):
            current = end(current, SequenceStatus.SUCCEEDED, now)
            break
        if len(started) >= MAX_STARTS_PER_ADVANCE:
            reason = (
                f"{MAX_STARTS_PER_ADVANCE} steps were started at once without waiting for "
                "any (fire-and-forget steps in a loop): the loop was stopped"
            )
            current = end(current, SequenceStatus.FAILED, now, reason)
            break
        current, run = _start(current, target, now, new_id)
        started += [run] if run is not None else []
    if current is not sequence:
        current = fitted(current.model_copy(update={"updated_at": now}))
    return Progress(current, tuple(started))


def fitted(sequence: Sequence) -> Sequence:
    """``sequence`` with its oldest runs let go (counted in ``runs_dropped``) until it
    keeps at most :data:`MAX_RUNS_KEPT` and fits :data:`MAX_SEQUENCE_BYTES`; the last two
    runs are always kept (the current one and the one whose results it may carry)."""
    runs = sequence.runs
    drop = max(0, len(runs) - MAX_RUNS_KEPT)
    current = sequence
    while True:
        if drop:
            current = sequence.model_copy(
                update={"runs": runs[drop:], "runs_dropped": sequence.runs_dropped + drop}
            )
        if len(sequence_json(current)) <= MAX_SEQUENCE_BYTES or len(runs) - drop <= 2:
            return current
        drop += max(1, (len(runs) - drop) // 8)
        drop = min(drop, len(runs) - 2)


def unknown_jobs(sequence: Sequence) -> list[str]:
    """The jobs of the kept runs whose final status is not recorded, oldest first."""
    return [job.job_id for run in sequence.runs for job in run.jobs if job.status is None]
