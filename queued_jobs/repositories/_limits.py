"""The write gate: what every repository checks before it writes a record, whatever its
store could hold. Sizes are capped; payloads may not nest deeper than the readers parse
(:data:`~queued_jobs.models.MAX_NESTING`) nor hold numbers they cannot read (longer integers
than :data:`~queued_jobs.models.MAX_INT_DIGITS`, infinities, NaN); and a record must pass
the same validation it will meet when read back, because ``model_copy(update=...)`` makes
copies without it."""

from __future__ import annotations

from typing import Any, Final

from pydantic import JsonValue, ValidationError
from pydantic_core import to_json

from ..errors import InvalidInput, InvalidJobRecord, PayloadTooDeep, PayloadTooLarge
from ..models import Attempt, QueuedJob, check_payload
from ..models.nesting import payload_json
from ._records import problems

__all__ = ["MAX_CUSTOM_DATA_BYTES", "check_attempt", "check_job", "json_bytes"]

#: ``custom_data`` is stored inline everywhere: at most one Table Storage property (64 KiB
#: of UTF-16 text).
MAX_CUSTOM_DATA_BYTES: Final = 64 * 1024
_JOB: Final = QueuedJob.__pydantic_validator__
_ATTEMPT: Final = Attempt.__pydantic_validator__
#: Payloads are checked for size, nesting and numbers instead (as JSON they always read back).
_PAYLOADS_LEFT_OUT: Final[dict[str, Any]] = {
    "request": None,
    "result": None,
    "custom_data": {},
    "version": None,
}


def json_bytes(value: JsonValue) -> bytes:
    """Compact UTF-8 JSON, the form payloads are measured and stored in."""
    return to_json(value)


def _fields(record: QueuedJob | Attempt, **replaced: Any) -> dict[str, Any]:
    """A record's fields as validator input. Its nested models (an error, progress) as
    their fields too: the validator would take a model instance as it is."""
    fields = {**record.__dict__, **replaced}
    if record.error is not None:
        fields["error"] = record.error.__dict__
    if isinstance(record, QueuedJob) and record.progress is not None:
        fields["progress"] = record.progress.__dict__
    return fields


def check_job(job: QueuedJob, max_payload_bytes: int) -> None:
    """Refuse a job record before it is written.

    Raises :class:`PayloadTooLarge` if a payload is over its size limit,
    :class:`PayloadTooDeep` if one nests too deep, :class:`InvalidJobRecord` if one holds
    a number that would not read back as it is, or if the record would not pass validation
    when read back.
    """
    for what, value in (("request", job.request), ("result", job.result)):
        if value is None:
            continue
        data = payload_json(value, what)
        if len(data) > max_payload_bytes:
            raise PayloadTooLarge(what, len(data), max_payload_bytes)
        _check_payload(job, value, what, data)
    if not isinstance(job.custom_data, dict):
        raise InvalidJobRecord(job.id, "custom_data: must be an object")
    if job.custom_data:
        data = payload_json(job.custom_data, "custom_data")
        size = len(data.decode("utf-8").encode("utf-16-le"))
        if size > MAX_CUSTOM_DATA_BYTES:
            raise PayloadTooLarge("custom_data (as UTF-16)", size, MAX_CUSTOM_DATA_BYTES)
        _check_payload(job, job.custom_data, "custom_data", data)
    try:
        _JOB.validate_python(_fields(job, **_PAYLOADS_LEFT_OUT))
    except ValidationError as exc:
        raise InvalidJobRecord(job.id, problems(exc)) from None


def _check_payload(job: QueuedJob, value: object, what: str, data: bytes) -> None:
    try:
        check_payload(value, what, encoded=data)
    except PayloadTooDeep:
        raise
    except InvalidInput as exc:
        raise InvalidJobRecord(job.id, str(exc)) from None


def check_attempt(attempt: Attempt) -> None:
    """Refuse an attempt record that would not read back (:class:`InvalidJobRecord`)."""
    try:
        _ATTEMPT.validate_python(_fields(attempt))
    except ValidationError as exc:
        reason = f"attempt {attempt.number}: {problems(exc)}"
        raise InvalidJobRecord(attempt.job_id, reason) from None
