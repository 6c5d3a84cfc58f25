"""Size limits that every repository enforces the same way, whatever its store can hold."""

from __future__ import annotations

from typing import Final

from pydantic import JsonValue
from pydantic_core import to_json

from ..errors import PayloadTooLarge
from ..models import QueuedJob

__all__ = ["MAX_CUSTOM_DATA_BYTES", "check_payloads", "json_bytes"]

#: ``custom_data`` is stored inline everywhere: at most one Table Storage property (64 KiB
#: of UTF-16 text).
MAX_CUSTOM_DATA_BYTES: Final = 64 * 1024


def json_bytes(value: JsonValue) -> bytes:
    """Compact UTF-8 JSON, the form payloads are measured and stored in."""
    return to_json(value)


def check_payloads(job: QueuedJob, max_payload_bytes: int) -> None:
    """Raise :class:`PayloadTooLarge` if the job's payloads are over the limits."""
    if job.request is not None:
        size = len(json_bytes(job.request))
        if size > max_payload_bytes:
            raise PayloadTooLarge("request", size, max_payload_bytes)
    if job.result is not None:
        size = len(json_bytes(job.result))
        if size > max_payload_bytes:
            raise PayloadTooLarge("result", size, max_payload_bytes)
    if job.custom_data:
        size = len(json_bytes(job.custom_data).decode("utf-8").encode("utf-16-le"))
        if size > MAX_CUSTOM_DATA_BYTES:
            raise PayloadTooLarge("custom_data (as UTF-16)", size, MAX_CUSTOM_DATA_BYTES)
