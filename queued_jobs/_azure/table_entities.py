"""A :class:`QueuedJob` as table properties, and back.

The record is one ``Doc`` property (compact JSON) plus the columns queries filter on
(``Owner``, ``JobType``, ``Status``, ``CreatedAt``, ``CompletedAt``). Requests and results
are inline JSON up to :data:`INLINE_LIMIT`, otherwise a blob whose name is stored instead
(``<job id>/<request|result>-<content hash>.json``).
Sizes are checked here because Azurite does not enforce Table Storage's limits. An entity
that cannot be turned back into a record (a property missing or not JSON, a document that
fails validation, a payload blob gone) raises :class:`CorruptJobRecord` naming its job.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import to_json

from ..errors import CorruptJobRecord, PayloadTooLarge
from ..models import Attempt, JobError, JobOutput, QueuedJob, output_tail
from ..repositories._records import attempt_from_json, problems
from . import table_keys as keys

__all__ = [
    "INLINE_LIMIT",
    "EncodedJob",
    "blob_names",
    "decode_attempt",
    "decode_job",
    "encode_attempt",
    "encode_job",
]

#: Requests/results larger than this (UTF-16 bytes, as the table stores text) go to a blob.
INLINE_LIMIT: Final = 32 * 1024
#: Table Storage: a property holds at most 64 KiB, an entity at most 1 MiB.
MAX_PROPERTY: Final = 64 * 1024
MAX_ENTITY: Final = 1024 * 1024
_SEPARATE: Final = {"request", "result", "custom_data", "error", "output", "version"}
_PAYLOADS: Final = (("request", "Request"), ("result", "Result"))


@dataclass(slots=True)
class EncodedJob:
    """Table properties (without keys) and the blobs they refer to (name → content)."""

    properties: dict[str, Any]
    blobs: dict[str, bytes] = field(default_factory=dict)


def _utf16_size(text: str) -> int:
    return len(text.encode("utf-16-le"))


def _fits_inline(data: bytes) -> bool:
    # UTF-16 never takes more than twice the UTF-8 size: most payloads skip re-encoding.
    return len(data) * 2 <= INLINE_LIMIT or _utf16_size(data.decode()) <= INLINE_LIMIT


def _check_sizes(properties: Mapping[str, Any]) -> None:
    total = 0
    for name, value in properties.items():
        size = _utf16_size(value) if isinstance(value, str) else 8
        if size > MAX_PROPERTY:
            raise PayloadTooLarge(f"table property {name}", size, MAX_PROPERTY)
        total += size + 2 * len(name) + 8
    if total > MAX_ENTITY // 2:  # leaves room for the keys and the service's own overhead
        raise PayloadTooLarge("job record", total, MAX_ENTITY // 2)


def _encode_error(error: JobError) -> str:
    """The error as JSON that fits one property: a failure must always be recordable, so an
    escaping-heavy traceback is cut further (its end, where the error is, is kept)."""
    text = error.model_dump_json()
    while _utf16_size(text) > MAX_PROPERTY // 2 and error.traceback:
        error = error.model_copy(
            update={"traceback": "…" + error.traceback[len(error.traceback) // 2 :]}
        )
        text = error.model_dump_json()
    return text


def _encode_output(output: JobOutput) -> str:
    """The output as JSON that fits a quarter of a property: text full of characters that
    JSON escapes is cut further (its end is kept)."""
    text = output.model_dump_json()
    while _utf16_size(text) > MAX_PROPERTY // 4 and output.text:
        kept = output_tail(output.text, len(output.text) // 2)
        output = output.model_copy(update={"text": kept, "new": min(output.new, len(kept))})
        text = output.model_dump_json()
    return text


def encode_job(job: QueuedJob) -> EncodedJob:
    properties: dict[str, Any] = {
        "Owner": job.owner,
        "JobType": job.job_type,
        "Status": job.status.value,
        "CreatedAt": job.created_at,
        "CompletedAt": job.completed_at,
        "Doc": job.model_dump_json(exclude=_SEPARATE),
        "CustomData": to_json(job.custom_data).decode() if job.custom_data else None,
        "Error": _encode_error(job.error) if job.error else None,
        "Output": _encode_output(job.output) if job.output else None,
    }
    encoded = EncodedJob(properties)
    for name, column in _PAYLOADS:
        value = getattr(job, name)
        if value is None:
            continue
        data = to_json(value)
        if _fits_inline(data):
            properties[column] = data.decode()
        else:
            # Named by content: a writer that loses an ETag race never overwrites the blob
            # of the version that won.
            blob = f"{job.id}/{name}-{hashlib.sha256(data).hexdigest()[:24]}.json"
            properties[column + "Blob"] = blob
            encoded.blobs[blob] = data
    _check_sizes({k: v for k, v in properties.items() if v is not None})
    return encoded


def blob_names(entity: Mapping[str, Any]) -> list[str]:
    """Names of the blobs an entity's payloads live in."""
    return [entity[c + "Blob"] for _, c in _PAYLOADS if entity.get(c + "Blob")]


def _text(entity: Mapping[str, Any], name: str) -> str | None:
    value = entity.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"its {name} property is not text")
    return value


def _document(entity: Mapping[str, Any], blobs: Mapping[str, bytes]) -> str:
    """The record's JSON, put together from its properties and blobs."""
    doc = _text(entity, "Doc")
    if not doc or not doc.endswith("}"):
        raise ValueError("its Doc property is missing" if not doc else "its Doc is not an object")
    parts = [doc[:-1]]
    for name, column in _PAYLOADS:
        text = _text(entity, column)
        if text is None and (blob := _text(entity, column + "Blob")):
            if blob not in blobs:
                raise ValueError(f"its {name} blob {blob} is missing")
            text = blobs[blob].decode()
        if text is not None:
            parts.append(f',"{name}":{text}')
    if custom := _text(entity, "CustomData"):
        parts.append(f',"custom_data":{custom}')
    if error := _text(entity, "Error"):
        parts.append(f',"error":{error}')
    if output := _text(entity, "Output"):
        parts.append(f',"output":{output}')
    return "".join(parts)


def decode_job(entity: Mapping[str, Any], etag: str, blobs: Mapping[str, bytes]) -> QueuedJob:
    """The job stored in ``entity``; ``blobs`` holds the contents of :func:`blob_names`
    that were found. Raises :class:`CorruptJobRecord` if it cannot be read."""
    job_id = keys.job_id_of(entity["RowKey"])
    try:
        doc = _document(entity, blobs) + f',"version":{to_json(etag).decode()}}}'
        job = QueuedJob.model_validate_json(doc)
    except ValidationError as exc:
        raise CorruptJobRecord(job_id, problems(exc)) from None
    except ValueError as exc:  # UnicodeDecodeError included
        raise CorruptJobRecord(job_id, str(exc)) from None
    if job.id != job_id:
        raise CorruptJobRecord(job_id, f"its document is the record of job {job.id}")
    return job


def encode_attempt(attempt: Attempt) -> dict[str, Any]:
    if attempt.error is not None:
        error = JobError.model_validate_json(_encode_error(attempt.error))
        attempt = attempt.model_copy(update={"error": error})
    doc = attempt.model_dump_json()
    _check_sizes({"Doc": doc})
    return {"Doc": doc}


def decode_attempt(entity: Mapping[str, Any]) -> Attempt:
    doc = entity.get("Doc")
    job_id = keys.job_id_of(entity["RowKey"])
    return attempt_from_json(job_id, doc if isinstance(doc, str) else None)
