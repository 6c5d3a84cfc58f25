"""What every store does alike with sequences
(:class:`~queued_jobs.sequences.store.SequenceStore`): the gate before a write, the
checks of a listing's arguments, reading a stored document back, and the change each
write records in the change feed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from pydantic import ValidationError

from ..errors import CorruptSequenceRecord, InvalidInput, InvalidSequence, PayloadTooLarge
from ..models import JobChange, JobStatus, Progress
from ..sequences.model import MAX_SEQUENCE_BYTES, Sequence, is_sequence_id, sequence_json
from ..sequences.store import MAX_PURGE_LIMIT
from ._changes import ALL, placed_doc
from ._records import problems
from ._schedules import check_limit, listing_owner

__all__ = [
    "SEQUENCE_TYPE",
    "check_listing",
    "check_purge",
    "check_sequence",
    "ended_at",
    "sequence_change",
    "sequence_change_doc",
    "sequence_doc",
    "sequence_from_json",
]

#: The ``job_type`` of a sequence's changes in the change feed.
SEQUENCE_TYPE: Final = "sequence"
_SEQUENCE: Final = Sequence.__pydantic_validator__


def check_sequence(sequence: object) -> Sequence:
    """``sequence`` if a store may write it: ``PayloadTooLarge`` over
    :data:`MAX_SEQUENCE_BYTES`, ``InvalidSequence`` if the record would not read back."""
    if not isinstance(sequence, Sequence):
        raise InvalidInput(f"a sequence is a Sequence, not {type(sequence).__name__}")
    size = len(sequence_json(sequence))
    if size > MAX_SEQUENCE_BYTES:
        raise PayloadTooLarge(f"sequence {sequence.id} record", size, MAX_SEQUENCE_BYTES)
    fields: dict[str, Any] = {**sequence.__dict__, "version": None}
    try:
        _SEQUENCE.validate_python(fields)
    except ValidationError as exc:
        raise InvalidSequence(
            f"sequence {sequence.id!r:.80} was not stored: its record would not read back: "
            f"{problems(exc)}"
        ) from None
    return sequence


def ended_at(sequence: Sequence) -> datetime | None:
    """When ``sequence`` ended, as the ended index keys it (``None`` while it is active):
    its ``completed_at`` (its ``created_at`` for one stored ended without it), a moment
    that no later write of the ended sequence moves."""
    if sequence.is_active:
        return None
    return sequence.completed_at or sequence.created_at


def check_purge(ended_before: object, limit: object) -> datetime:
    """A purge's cutoff (timezone-aware) once its limit is checked (1 to
    :data:`~queued_jobs.sequences.store.MAX_PURGE_LIMIT`)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PURGE_LIMIT:
        raise InvalidInput(f"a purge's limit is 1 to {MAX_PURGE_LIMIT:,}, not {limit!r:.40}")
    if not isinstance(ended_before, datetime) or ended_before.utcoffset() is None:
        raise InvalidInput("ended_before is a timezone-aware datetime")
    try:
        return ended_before.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            f"ended_before {ended_before.isoformat()} is outside the years 1 to 9999 in UTC"
        ) from None


def check_listing(
    owner: str | None, limit: object, continuation: str | None
) -> tuple[str | None, str | None]:
    """A listing's owner (checked) and the id it continues after; refuses a bad limit or
    continuation token."""
    checked = listing_owner(owner)
    check_limit(limit)
    if continuation is not None and not is_sequence_id(continuation):
        raise InvalidInput(
            f"{continuation!r:.80} is not a continuation token of a sequence listing"
        )
    return checked, continuation


def sequence_doc(sequence: Sequence) -> str:
    """The record as stored: compact JSON without its version (the store's own)."""
    return sequence_json(sequence).decode()


def sequence_from_json(sequence_id: str, doc: object, version: str) -> Sequence:
    """The sequence stored as ``doc``; ``CorruptSequenceRecord`` naming ``sequence_id``."""
    if not isinstance(doc, str | bytes) or not doc:
        raise CorruptSequenceRecord(sequence_id, "its document is missing")
    try:
        sequence = Sequence.model_validate_json(doc)
    except ValidationError as exc:
        raise CorruptSequenceRecord(sequence_id, problems(exc)) from None
    if sequence.id != sequence_id:
        raise CorruptSequenceRecord(sequence_id, f"its document is the record of {sequence.id}")
    return sequence.model_copy(update={"version": version})


def sequence_change(sequence: Sequence, *, partition: str = ALL, position: str = "0") -> JobChange:
    """The change that writing ``sequence`` records: its status, where it is (the step
    and its iteration, as progress through its steps) and why it ended."""
    steps = len(sequence.steps)
    progress = None
    if sequence.step is not None:
        iteration = sequence.iterations[sequence.step] if sequence.iterations else 0
        progress = Progress(
            percent=round(100 * sequence.step / steps, 1),
            message=f"step {sequence.step} (steps 0-{steps - 1}), iteration {iteration}",
        )
    reason = sequence.reason
    return JobChange(
        partition=partition,
        position=position,
        job_id=sequence.id,
        owner=sequence.owner,
        job_type=SEQUENCE_TYPE,
        status=JobStatus(sequence.status.value),
        progress=progress,
        attempts=len(sequence.runs) + sequence.runs_dropped,
        cancel_requested=sequence.cancel_pending,
        changed_at=sequence.updated_at,
        error=None if reason is None else reason[:499] + ("…" if len(reason) > 499 else ""),
        kind="sequence",
    )


def sequence_change_doc(sequence: Sequence) -> str:
    """The document of the change that writing ``sequence`` records (without its place)."""
    return placed_doc(sequence_change(sequence))
