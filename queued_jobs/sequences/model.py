"""The stored record of a multi-step sequence (:class:`Sequence`): pure values, no I/O.

A sequence runs its ``steps`` in order, from step 0. A step starts one or more jobs at
once (its :class:`StepJob` entries, each a job type and a request), and its ``exit`` rule
says when it is over: when all its jobs ended (``wait_all``), at the first that succeeds
(``wait_any``), or as soon as they are started (``fire_and_forget``). Its outcome
(:class:`Outcome`) then picks one of its three actions (``on_success``, ``on_failure``,
``on_mixed``): ``next``, ``goto:<step>`` or ``end:<status>``. Steps are numbered from 0.
Every start of a step is a :class:`Run`, kept in ``runs`` (the latest ones, as many as
the record's bound allows), with its jobs' ids and, once known, their final statuses.

``max_iterations`` bounds loops: a step started more often than that ends the sequence
``failed``, saying so in ``reason``.

Every value is checked here, so that every store can key and hold it; a definition that
cannot run raises :class:`~queued_jobs.errors.InvalidSequence`.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, NamedTuple, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    model_validator,
)

from ..clock import utcnow
from ..errors import InvalidSequence, PayloadTooLarge
from ..models.fields import JobId, first_problem, plain_text, record_id
from ..models.job import (
    JobType,
    Owner,
    UtcDatetime,
    is_job_id,
    new_job_id,
    owner_shard,
)
from ..models.nesting import check_payload, payload_json
from ..models.status import JobStatus

__all__ = [
    "DEFAULT_MAX_ITERATIONS",
    "MAX_DEFINITION_BYTES",
    "MAX_ITERATIONS",
    "MAX_JOBS_PER_STEP",
    "MAX_NAME_LENGTH",
    "MAX_REASON_LENGTH",
    "MAX_RUNS_KEPT",
    "MAX_SEQUENCE_BYTES",
    "MAX_STEPS",
    "MAX_STEP_REQUEST_BYTES",
    "PREVIOUS_KEY",
    "Action",
    "ExitRule",
    "Outcome",
    "Run",
    "RunJob",
    "Sequence",
    "SequenceStatus",
    "Step",
    "StepJob",
    "is_sequence_id",
    "parse_action",
    "sequence_json",
]

MAX_STEPS: Final = 100
MAX_JOBS_PER_STEP: Final = 100
#: Largest request (compact UTF-8 JSON) one job entry of a step may carry.
MAX_STEP_REQUEST_BYTES: Final = 32 * 1024
#: Largest definition (the steps, as compact UTF-8 JSON).
MAX_DEFINITION_BYTES: Final = 64 * 1024
#: Largest record (compact UTF-8 JSON): as UTF-16, as Table Storage keeps text, at most
#: 384 KiB, well inside an entity (1 MiB); older runs are dropped to keep within it.
MAX_SEQUENCE_BYTES: Final = 192 * 1024
#: Most runs a record keeps (the latest); ``runs_dropped`` counts those let go.
MAX_RUNS_KEPT: Final = 100
MAX_ITERATIONS: Final = 1000
DEFAULT_MAX_ITERATIONS: Final = 10
MAX_NAME_LENGTH: Final = 200
MAX_REASON_LENGTH: Final = 2000
#: The key of the request of a step that passes results on (``pass_results``).
PREVIOUS_KEY: Final = "previous"
_ACTION: Final = re.compile(r"^(next|goto:(0|[1-9][0-9]{0,2})|end:(succeeded|failed|cancelled))$")


class SequenceStatus(StrEnum):
    """Where a sequence is."""

    #: A step's jobs are running (or about to be started).
    RUNNING = "running"
    #: Ended by ``end:succeeded``, or by ``next`` after its last step.
    SUCCEEDED = "succeeded"
    #: Ended by ``end:failed``, by its loop guard, or by what could not be started.
    FAILED = "failed"
    #: Cancelled (``SequenceClient.cancel``), or ended by ``end:cancelled``.
    CANCELLED = "cancelled"


class ExitRule(StrEnum):
    """When a step is over."""

    #: When every job of the step has ended.
    WAIT_ALL = "wait_all"
    #: When one job of the step has succeeded (or every job has ended, none succeeded).
    WAIT_ANY = "wait_any"
    #: As soon as its jobs are started: their outcomes are recorded, never waited for.
    FIRE_AND_FORGET = "fire_and_forget"


class Outcome(StrEnum):
    """What a step came to."""

    #: Every job succeeded (``wait_any``: one did; ``fire_and_forget``: they started).
    SUCCESS = "success"
    #: No job succeeded.
    FAILURE = "failure"
    #: Some succeeded, some did not (``wait_all`` only).
    MIXED = "mixed"


class Action(NamedTuple):
    """A parsed action: ``kind`` is ``next``, ``goto`` (to step ``target``) or ``end``
    (with ``status``)."""

    kind: str
    target: int | None = None
    status: SequenceStatus | None = None


def parse_action(text: str) -> Action:
    """The action ``text`` names: ``next``, ``goto:<step>``, ``end:succeeded``,
    ``end:failed`` or ``end:cancelled``; ``InvalidSequence`` for anything else."""
    match = _ACTION.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidSequence(
            f"{text!r:.80} is no action: give 'next', 'goto:<step>' (steps count from 0), "
            "'end:succeeded', 'end:failed' or 'end:cancelled'"
        )
    if match.group(2) is not None:
        return Action("goto", target=int(match.group(2)))
    if match.group(3) is not None:
        return Action("end", status=SequenceStatus(match.group(3)))
    return Action("next")


def is_sequence_id(value: object) -> bool:
    """Whether ``value`` has the form of a sequence id (that of a job id)."""
    return is_job_id(value)


def _action(value: str) -> str:
    try:
        parse_action(value)
    except InvalidSequence as exc:
        raise ValueError(str(exc)) from None
    return value


def _request(value: JsonValue) -> JsonValue:
    if value is not None:
        data = payload_json(value, "step request")
        if len(data) > MAX_STEP_REQUEST_BYTES:
            raise PayloadTooLarge("step request", len(data), MAX_STEP_REQUEST_BYTES)
        check_payload(value, "step request", encoded=data)
    return value


SequenceId = Annotated[str, record_id("sequence", "new_job_id(owner)")]
ActionText = Annotated[str, AfterValidator(_action)]
Name = Annotated[str, plain_text("sequence name", MAX_NAME_LENGTH)]
Reason = Annotated[str, Field(max_length=MAX_REASON_LENGTH)]


class StepJob(BaseModel):
    """One job a step starts: its type and its request (the override of this step)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_type: JobType
    request: Annotated[JsonValue, AfterValidator(_request)] = None


class Step(BaseModel):
    """One step: its jobs, started together, when it is over, and where each outcome
    leads. ``pass_results``: each job's request gets the previous run's results under
    :data:`PREVIOUS_KEY` (``docs/sequences.md`` gives the form)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    jobs: tuple[StepJob, ...] = Field(min_length=1, max_length=MAX_JOBS_PER_STEP)
    exit: ExitRule = ExitRule.WAIT_ALL
    pass_results: bool = False
    on_success: ActionText = "next"
    on_failure: ActionText = "end:failed"
    on_mixed: ActionText = "end:failed"

    @model_validator(mode="after")
    def _results_have_room(self) -> Self:
        if self.pass_results:
            for number, entry in enumerate(self.jobs):
                request = entry.request
                if request is not None and not isinstance(request, dict):
                    raise ValueError(
                        f"job {number} passes results on, so its request must be an object "
                        "(or none), not a list or a single value"
                    )
                if isinstance(request, dict) and PREVIOUS_KEY in request:
                    raise ValueError(
                        f"job {number} passes results on under {PREVIOUS_KEY!r}: its own "
                        "request must not hold that key"
                    )
        return self

    def action(self, outcome: Outcome) -> Action:
        """The action this step takes on ``outcome``."""
        text = {
            Outcome.SUCCESS: self.on_success,
            Outcome.FAILURE: self.on_failure,
            Outcome.MIXED: self.on_mixed,
        }[outcome]
        return parse_action(text)


class RunJob(BaseModel):
    """One job of a run: its id and, once it ended, its final status."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: JobId
    status: JobStatus | None = None

    @model_validator(mode="after")
    def _final(self) -> Self:
        if self.status is not None and not self.status.is_terminal:
            raise ValueError(f"a run records final statuses only, not {self.status.value!r}")
        return self


class Run(BaseModel):
    """One start of a step: its jobs (in the order of the step's entries) and, once the
    step is over, its outcome."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Counts the sequence's runs from 0.
    number: int = Field(ge=0)
    step: int = Field(ge=0, lt=MAX_STEPS)
    #: How many times the step has been started, this one included (from 1).
    iteration: int = Field(ge=1, le=MAX_ITERATIONS)
    jobs: tuple[RunJob, ...] = Field(min_length=1, max_length=MAX_JOBS_PER_STEP)
    #: The run whose results the requests carry (``pass_results``), and which of its jobs
    #: had ended then (those whose results were handed on).
    previous: int | None = Field(default=None, ge=0)
    passed: tuple[JobId, ...] = Field(default=(), max_length=MAX_JOBS_PER_STEP)
    outcome: Outcome | None = None
    started_at: UtcDatetime
    ended_at: UtcDatetime | None = None

    def job_status(self, job_id: str) -> JobStatus | None:
        for job in self.jobs:
            if job.job_id == job_id:
                return job.status
        return None

    def holds(self, job_id: str) -> bool:
        return any(job.job_id == job_id for job in self.jobs)


class Sequence(BaseModel):
    """A sequence as stored. Immutable: make one with :meth:`new`, change it with
    :meth:`with_changes`, then hand it to the store
    (:class:`~queued_jobs.sequences.store.SequenceStore`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: SequenceId
    owner: Owner
    name: Name
    steps: tuple[Step, ...] = Field(min_length=1, max_length=MAX_STEPS)
    max_iterations: int = Field(default=DEFAULT_MAX_ITERATIONS, ge=1, le=MAX_ITERATIONS)
    status: SequenceStatus = SequenceStatus.RUNNING
    #: The step running (``None`` once the sequence ended).
    step: int | None = Field(default=0, ge=0, lt=MAX_STEPS)
    #: How many times each step has been started.
    iterations: tuple[int, ...] = ()
    runs: tuple[Run, ...] = Field(default=(), max_length=MAX_RUNS_KEPT)
    #: How many of the oldest runs were let go to keep the record within its bounds.
    runs_dropped: int = Field(default=0, ge=0)
    #: Why it ended (set for every end but a success).
    reason: Reason | None = None
    #: Cancelled, but its jobs not all told yet (the sweep finishes it).
    cancel_pending: bool = False
    created_at: UtcDatetime
    updated_at: UtcDatetime
    completed_at: UtcDatetime | None = None
    #: The store's version of this record (an ETag on Azure); ``None`` until stored.
    version: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if int(self.id[-1], 16) != owner_shard(self.owner):
            raise ValueError(
                "sequence id does not belong to this owner; make ids with new_job_id(owner)"
            )
        count = len(self.steps)
        for number, step in enumerate(self.steps):
            for outcome in Outcome:
                action = step.action(outcome)
                if action.target is not None and action.target >= count:
                    raise ValueError(
                        f"step {number} goes to step {action.target} on {outcome.value}, but "
                        f"the steps are 0 to {count - 1}"
                    )
        if self.iterations and len(self.iterations) != count:
            raise ValueError("iterations holds one count per step")
        if (self.status is SequenceStatus.RUNNING) != (self.step is not None):
            raise ValueError("a running sequence has a current step, an ended one none")
        if self.step is not None and self.step >= count:
            raise ValueError(f"step {self.step} does not exist (the steps are 0 to {count - 1})")
        for run in self.runs:
            if run.step >= count or len(run.jobs) != len(self.steps[run.step].jobs):
                raise ValueError(f"run {run.number} does not match its step {run.step}")
        return self

    @classmethod
    def new(
        cls,
        *,
        owner: str,
        name: str,
        steps: Any,
        max_iterations: int = DEFAULT_MAX_ITERATIONS,
        now: datetime | None = None,
    ) -> Sequence:
        """A new, not yet stored sequence with a fresh id (at step 0, nothing started).
        ``InvalidSequence`` (``PayloadTooLarge`` for a request or a definition over its
        limit) names what is wrong."""
        moment = now or utcnow()
        try:
            made = cls(
                id=new_job_id(owner, now=moment),
                owner=owner,
                name=name,
                steps=steps,
                max_iterations=max_iterations,
                created_at=moment,
                updated_at=moment,
            )
        except ValidationError as exc:
            raise _invalid(exc, "invalid sequence") from None
        size = len(payload_json([s.model_dump(mode="json") for s in made.steps], "steps"))
        if size > MAX_DEFINITION_BYTES:
            raise PayloadTooLarge("sequence definition", size, MAX_DEFINITION_BYTES)
        return made.model_copy(update={"iterations": (0,) * len(made.steps)})

    def with_changes(self, *, now: datetime | None = None, **changes: Any) -> Sequence:
        """A validated copy with ``changes`` and ``updated_at`` set to ``now``; keeps its
        version, so that the store's update is guarded by it."""
        fields = {**self.__dict__, **changes, "updated_at": now or utcnow()}
        try:
            return type(self).model_validate(fields)
        except ValidationError as exc:
            raise _invalid(exc, f"invalid change to sequence {self.id}") from None

    @property
    def is_active(self) -> bool:
        """Whether the sweep still has something to look at: running, or cancelled with
        jobs not all told. What the stores index."""
        return self.status is SequenceStatus.RUNNING or self.cancel_pending

    @property
    def current_run(self) -> Run | None:
        """The run waited for: the last one, while the sequence runs and it has no
        outcome."""
        if self.status is not SequenceStatus.RUNNING or not self.runs:
            return None
        last = self.runs[-1]
        return last if last.outcome is None else None

    def run_of(self, job_id: str) -> Run | None:
        """The kept run that started ``job_id``."""
        for run in reversed(self.runs):
            if run.holds(job_id):
                return run
        return None


def sequence_json(sequence: Sequence) -> bytes:
    """The record as stored: compact JSON without its version (the store's own)."""
    return sequence.model_dump_json(exclude={"version"}).encode()


def _invalid(exc: ValidationError, what: str) -> InvalidSequence:
    return InvalidSequence(first_problem(exc, what))
