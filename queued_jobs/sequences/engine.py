"""The sequence engine: starts sequences, advances them as their jobs end, cancels them,
and finishes what a crash left undone (what the sweep calls).

Every change is a version-guarded write of the record, planned by ``_plan`` from what was
read: whoever loses a race re-reads and plans again, so two completions arriving at once
advance a sequence once. A step's jobs get their ids in the write that starts the step;
only then are they stored and queued under those ids (a second store of an id is
``JobAlreadyExists``: done already), so a crash between the two leaves ids the sweep
finds without jobs, and stores them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import JsonValue, ValidationError

from ..client import JobClient, JobSpec
from ..errors import (
    ConcurrencyConflict,
    InvalidInput,
    InvalidSequence,
    JobAlreadyExists,
    JobNotFound,
    SequenceNotFound,
)
from ..models import JobStatus, QueuedJob, is_job_id, new_job_id
from ..models.nesting import payload_json
from ..repositories.base import DEFAULT_MAX_PAYLOAD_BYTES
from ..telemetry.logs import library_logger
from ._plan import end, progress, record_status, unknown_jobs
from .model import PREVIOUS_KEY, Run, Sequence, SequenceStatus

__all__ = ["SEQUENCE_DATA_KEY", "SequenceEngine", "Settled", "sequence_of"]

log = library_logger("queued_jobs.sequences")
#: The key of a step job's ``custom_data`` that names its sequence, step and iteration.
SEQUENCE_DATA_KEY: Final = "sequence"
_TRIES: Final = 16


def sequence_of(job: QueuedJob) -> str | None:
    """The id of the sequence ``job`` was started by (its ``custom_data``), if any."""
    data = job.custom_data.get(SEQUENCE_DATA_KEY)
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) and is_job_id(found) else None


@dataclass(frozen=True, slots=True)
class Settled:
    """What :meth:`SequenceEngine.settle` did: the sequence as it left it, whether it
    wrote it, and how many missing jobs it stored."""

    sequence: Sequence
    moved: bool
    created: int


class SequenceEngine:
    """Runs sequences through ``client`` (its repository's ``sequences`` store and its job
    registry, which must know every job type of a step)."""

    def __init__(self, client: JobClient) -> None:
        self.client = client
        self.store = client.repository.sequences
        self._rng = random.Random()

    # --- starting ----------------------------------------------------------------------

    async def start(
        self, *, owner: str, name: str, steps: Any, max_iterations: int | None = None
    ) -> Sequence:
        """Store a new sequence and start its first step. ``InvalidSequence`` for a
        definition that cannot run (or a job type not registered, a request its type
        refuses), before anything is stored."""
        options = {} if max_iterations is None else {"max_iterations": max_iterations}
        made = Sequence.new(
            owner=owner, name=name, steps=steps, now=self.client.clock.now(), **options
        )
        for number, step in enumerate(made.steps):
            for entry in step.jobs:
                if not step.pass_results:
                    self._check_request(entry.job_type, entry.request, number)
                elif entry.job_type not in self.client.registry:
                    self._check_request(entry.job_type, None, number)
        stored = await self.store.insert_sequence(made)
        return await self._advance(stored.id, read=stored)

    def _check_request(self, job_type: str, request: JsonValue, step: int) -> None:
        try:
            definition = self.client.registry.get(job_type)
            definition.validate_request(request)
        except ValidationError as exc:
            raise InvalidSequence(
                f"step {step}: invalid request for job type {job_type!r}: {exc}"
            ) from None
        except InvalidInput as exc:
            raise InvalidSequence(f"step {step}: {exc}") from None
        size = len(payload_json(request, "request"))
        if size > DEFAULT_MAX_PAYLOAD_BYTES:
            raise InvalidSequence(
                f"step {step}: the request of a {job_type!r} job is {size:,} bytes; at most "
                f"{DEFAULT_MAX_PAYLOAD_BYTES:,} allowed (pass references to large data)"
            )

    # --- advancing ---------------------------------------------------------------------

    async def job_ended(self, job: QueuedJob) -> Sequence | None:
        """Record the end of ``job`` in its sequence and advance it if its step is over;
        the sequence as it is then (``None``: the job is no step job)."""
        sequence_id = sequence_of(job)
        if sequence_id is None or not job.is_terminal:
            return None
        try:
            return await self._advance(sequence_id, observed={job.id: job.status})
        except SequenceNotFound:  # deleted since: nothing to advance
            return None

    async def _advance(
        self,
        sequence_id: str,
        *,
        observed: Mapping[str, JobStatus] | None = None,
        read: Sequence | None = None,
    ) -> Sequence:
        """Read, record ``observed`` statuses, plan, write (guarded); then store and queue
        the jobs of the runs the write started."""
        for attempt in range(_TRIES):
            sequence = read or await self.store.get_sequence(sequence_id)
            read = None
            changed = sequence
            for job_id, status in (observed or {}).items():
                changed = record_status(changed, job_id, status) or changed
            now = self.client.clock.now()
            planned = progress(changed, now, new_job_id)
            new, started = planned.sequence, planned.started
            if new is sequence:
                return sequence
            try:
                specs = await self._specs(new, started)
            except InvalidInput as exc:
                new, specs = self._failed_start(changed, started, exc), []
            try:
                stored = await self.store.update_sequence(new.with_changes(now=now))
            except ConcurrencyConflict:
                await asyncio.sleep(self._rng.uniform(0, 0.005 * 2 ** min(attempt, 6)))
                continue
            await self._queue(stored, specs)
            return stored
        raise ConcurrencyConflict(sequence_id, kind="sequence")

    def _failed_start(self, sequence: Sequence, started: Iterable[Run], exc: Exception) -> Sequence:
        steps = ", ".join(str(run.step) for run in started) or "?"
        reason = f"step {steps} could not be started: {exc}"
        return end(sequence, SequenceStatus.FAILED, self.client.clock.now(), reason[:2000])

    async def _specs(self, sequence: Sequence, runs: Iterable[Run]) -> list[JobSpec]:
        """The jobs of ``runs``, their requests made (the previous run's results handed
        on where a step asks) and checked: ``InvalidInput`` says what is wrong."""
        specs: list[JobSpec] = []
        for run in runs:
            step = sequence.steps[run.step]
            previous = await self._previous(sequence, run) if step.pass_results else None
            for entry, job in zip(step.jobs, run.jobs, strict=True):
                request = entry.request
                if step.pass_results:
                    base = request if isinstance(request, dict) else {}
                    request = {**base, PREVIOUS_KEY: previous}
                self._check_request(entry.job_type, request, run.step)
                specs.append(
                    JobSpec(
                        entry.job_type,
                        request,
                        owner=sequence.owner,
                        correlation_id=f"sequence:{sequence.id}",
                        custom_data={
                            SEQUENCE_DATA_KEY: {
                                "id": sequence.id,
                                "step": run.step,
                                "iteration": run.iteration,
                            }
                        },
                        job_id=job.job_id,
                    )
                )
        return specs

    async def _previous(self, sequence: Sequence, run: Run) -> JsonValue:
        """What a run of a step that passes results on gets under ``previous``: the run
        before it, its outcome, and each of its jobs, with the status and result of
        those that had ended when the run started (``run.passed``)."""
        before = next((r for r in sequence.runs if r.number == run.previous), None)
        if before is None:
            return None
        ended = set(run.passed)
        jobs = await asyncio.gather(
            *(self._job(j.job_id) for j in before.jobs if j.job_id in ended)
        )
        read = {job.id: job for job in jobs if job is not None}
        entries = sequence.steps[before.step].jobs
        listed: list[JsonValue] = []
        for entry, job in zip(entries, before.jobs, strict=True):
            found = read.get(job.job_id)
            status = found.status if found is not None and found.is_terminal else None
            listed.append(
                {
                    "job_id": job.job_id,
                    "job_type": entry.job_type,
                    "status": None if status is None else status.value,
                    "result": found.result
                    if found is not None and status is JobStatus.SUCCEEDED
                    else None,
                }
            )
        return {
            "step": before.step,
            "iteration": before.iteration,
            "outcome": None if before.outcome is None else before.outcome.value,
            "jobs": listed,
        }

    async def _job(self, job_id: str) -> QueuedJob | None:
        try:
            return await self.client.repository.get(job_id)
        except JobNotFound:
            return None

    async def _queue(self, sequence: Sequence, specs: list[JobSpec]) -> int:
        """Store and queue ``specs`` (jobs stored already are left as they are); returns
        how many were stored. If the sequence was ended meanwhile (cancelled), cancels
        them again: a cancel that ran before they were stored could not."""
        if not specs:
            return 0
        try:
            await self.client.queue_jobs(specs)
            created = len(specs)
        except JobAlreadyExists:
            created = 0
            for spec in specs:
                try:
                    await self.client.queue_jobs([spec])
                    created += 1
                except JobAlreadyExists:
                    continue
        except InvalidInput as exc:
            await self._fail(sequence.id, f"its jobs could not be stored: {exc}")
            return 0
        if created:
            now = await self.store.get_sequence(sequence.id)
            if now.status is not SequenceStatus.RUNNING:
                await self._cancel_jobs(spec.job_id for spec in specs if spec.job_id)
        return created

    async def _fail(self, sequence_id: str, reason: str) -> None:
        for _ in range(_TRIES):
            sequence = await self.store.get_sequence(sequence_id)
            if sequence.status is not SequenceStatus.RUNNING:
                return
            ended = end(sequence, SequenceStatus.FAILED, self.client.clock.now(), reason[:2000])
            try:
                await self.store.update_sequence(ended)
                return
            except ConcurrencyConflict:
                continue

    # --- cancelling --------------------------------------------------------------------

    async def cancel(self, sequence_id: str, *, reason: str = "cancelled") -> Sequence:
        """End a running sequence ``cancelled`` and cancel its jobs not known to have
        ended; an ended sequence is returned as it is (its cancel finished if pending)."""
        for _ in range(_TRIES):
            sequence = await self.store.get_sequence(sequence_id)
            if sequence.status is not SequenceStatus.RUNNING:
                if sequence.cancel_pending:
                    return await self._finish_cancel(sequence)
                return sequence
            now = self.client.clock.now()
            ended = end(sequence, SequenceStatus.CANCELLED, now, reason[:2000])
            pending = bool(unknown_jobs(ended))
            try:
                stored = await self.store.update_sequence(
                    ended.with_changes(now=now, cancel_pending=pending)
                )
            except ConcurrencyConflict:
                continue
            return await self._finish_cancel(stored) if pending else stored
        raise ConcurrencyConflict(sequence_id, kind="sequence")

    async def _cancel_jobs(self, job_ids: Iterable[str]) -> dict[str, JobStatus]:
        """Cancel each job; the final statuses of those that have one now."""
        ended: dict[str, JobStatus] = {}
        for job_id in job_ids:
            try:
                job = await self.client.cancel(job_id)
            except JobNotFound:
                continue
            if job.is_terminal:
                ended[job.id] = job.status
        return ended

    async def _finish_cancel(self, sequence: Sequence) -> Sequence:
        """Cancel the jobs of a cancelled sequence not known to have ended, then record
        what they came to and that the cancel is done."""
        ended = await self._cancel_jobs(unknown_jobs(sequence))
        for _ in range(_TRIES):
            changed = sequence
            for job_id, status in ended.items():
                changed = record_status(changed, job_id, status) or changed
            try:
                return await self.store.update_sequence(
                    changed.with_changes(now=self.client.clock.now(), cancel_pending=False)
                )
            except ConcurrencyConflict:
                sequence = await self.store.get_sequence(sequence.id)
                if not sequence.cancel_pending:
                    return sequence
        raise ConcurrencyConflict(sequence.id, kind="sequence")

    # --- finishing what a crash left ---------------------------------------------------

    async def settle(self, sequence: Sequence) -> Settled:
        """Finish what a crash left undone of ``sequence`` (one the active index listed):
        a pending cancel; the jobs of its current run that were never stored (stored
        now); those that ended unheard (recorded, and the sequence advanced)."""
        if sequence.cancel_pending:
            return Settled(await self._finish_cancel(sequence), True, 0)
        if sequence.status is not SequenceStatus.RUNNING:
            return Settled(sequence, False, 0)
        run = sequence.current_run
        if run is None:  # its first step was never started
            moved = await self._advance(sequence.id)
            return Settled(moved, moved is not sequence, 0)
        waiting = [job.job_id for job in run.jobs if job.status is None]
        jobs = await asyncio.gather(*(self._job(job_id) for job_id in waiting))
        missing = {job_id for job_id, job in zip(waiting, jobs, strict=True) if job is None}
        created = 0
        if missing:
            try:
                specs = [s for s in await self._specs(sequence, [run]) if s.job_id in missing]
            except InvalidInput as exc:
                await self._fail(sequence.id, f"step {run.step} could not be started: {exc}")
                return Settled(await self.store.get_sequence(sequence.id), True, 0)
            created = await self._queue(sequence, specs)
        observed = {job.id: job.status for job in jobs if job is not None and job.is_terminal}
        if not observed:
            return Settled(sequence, False, created)
        moved = await self._advance(sequence.id, observed=observed)
        return Settled(moved, moved.version != sequence.version, created)
