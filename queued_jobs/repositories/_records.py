"""Turning stored rows back into records, and saying in a sentence why one cannot be."""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError

from ..errors import CorruptJobRecord
from ..models import Attempt, QueuedJob, UniqueScope, unique_reservation

__all__ = ["attempt_from_json", "job_from_json", "problems", "reservation_in"]

#: A reason is cut to this many characters: it names the problem, it does not quote data.
_REASON_LIMIT: Final = 300


def problems(exc: ValidationError) -> str:
    """What a validation error found, in one line: the first problem and how many more."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if not errors:
        return str(exc)[:_REASON_LIMIT]
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"])
    text = f"{where}: {first['msg']}" if where else first["msg"]
    if len(errors) > 1:
        more = len(errors) - 1
        text += f" (and {more} more problem{'s' if more > 1 else ''})"
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 1] + "…"


def job_from_json(job_id: str, doc: str | bytes | None, version: str | None) -> QueuedJob:
    """The job stored as ``doc``; raises :class:`CorruptJobRecord` naming ``job_id``."""
    if not doc:
        raise CorruptJobRecord(job_id, "its document is missing")
    try:
        job = QueuedJob.model_validate_json(doc)
    except ValidationError as exc:
        raise CorruptJobRecord(job_id, problems(exc)) from None
    if job.id != job_id:
        raise CorruptJobRecord(job_id, f"its document is the record of job {job.id}")
    return job if version is None else job.model_copy(update={"version": version})


def attempt_from_json(job_id: str, doc: str | bytes | None) -> Attempt:
    """An attempt of ``job_id`` stored as ``doc``; raises :class:`CorruptJobRecord`."""
    if not doc:
        raise CorruptJobRecord(job_id, "an attempt's document is missing")
    try:
        return Attempt.model_validate_json(doc)
    except ValidationError as exc:
        raise CorruptJobRecord(job_id, f"an attempt cannot be read: {problems(exc)}") from None


def reservation_in(unique_key: Any, owner: Any, scope: Any) -> str | None:
    """The unique-key reservation a stored job holds, from its document's ``unique_key``,
    ``owner`` and ``unique_scope`` as stored (any values: the row may be damaged), or
    ``None``. A document without a scope is a record stored before scopes existed: its key
    was reserved across owners, as it is."""
    if not isinstance(unique_key, str) or not unique_key:
        return None
    if scope == UniqueScope.OWNER.value and isinstance(owner, str):
        return unique_reservation(owner, unique_key, UniqueScope.OWNER)
    return unique_key
