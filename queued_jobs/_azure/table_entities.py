"""A :class:`QueuedJob` as table properties, and back.

The record is one ``Doc`` property (compact JSON) plus the columns queries filter on
(``Owner``, ``JobType``, ``Status``, ``CreatedAt``, ``CompletedAt``). Requests and results
are inline JSON up to :data:`INLINE_LIMIT`, otherwise a blob whose name is stored instead
(``<job id>/<request|result>-<content hash>.json``).
Sizes are checked here because Azurite does not enforce Table Storage's limits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic_core import to_json

from ..errors import PayloadTooLarge
from ..models import Attempt, JobError, QueuedJob

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
_SEPARATE: Final = {"request", "result", "custom_data", "error", "version"}
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


def decode_job(entity: Mapping[str, Any], etag: str, blobs: Mapping[str, bytes]) -> QueuedJob:
    """The job stored in ``entity``; ``blobs`` holds the contents of :func:`blob_names`."""
    doc: str = entity["Doc"]
    parts = [doc[:-1]]
    for name, column in _PAYLOADS:
        text = entity.get(column)
        if text is None and (blob := entity.get(column + "Blob")):
            text = blobs[blob].decode()
        if text is not None:
            parts.append(f',"{name}":{text}')
    if custom := entity.get("CustomData"):
        parts.append(f',"custom_data":{custom}')
    if error := entity.get("Error"):
        parts.append(f',"error":{error}')
    parts.append(f',"version":{to_json(etag).decode()}}}')
    return QueuedJob.model_validate_json("".join(parts))


def encode_attempt(attempt: Attempt) -> dict[str, Any]:
    if attempt.error is not None:
        error = JobError.model_validate_json(_encode_error(attempt.error))
        attempt = attempt.model_copy(update={"error": error})
    doc = attempt.model_dump_json()
    _check_sizes({"Doc": doc})
    return {"Doc": doc}


def decode_attempt(entity: Mapping[str, Any]) -> Attempt:
    return Attempt.model_validate_json(entity["Doc"])
