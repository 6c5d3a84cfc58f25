"""The body of a job's queue message: its id, and a snapshot of the record when it fits.

With the snapshot (and its version) a worker claims the job with one conditional write and
no read; when the job changed since, the write conflicts and the worker reads it then.
The id is always in the body because a poison queue keeps nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from pydantic import ValidationError

from ..models import QueuedJob
from ..queues.base import MAX_BODY_BYTES

__all__ = ["JobMessage", "UnreadableMessage", "decode_message", "encode_message"]

FORMAT: Final = 1
#: Leave room for the envelope; a larger record goes without its snapshot.
_SNAPSHOT_LIMIT: Final = MAX_BODY_BYTES - 200


class UnreadableMessage(ValueError):
    """A queue message that is not a job message of this format."""


@dataclass(frozen=True, slots=True)
class JobMessage:
    job_id: str
    snapshot: QueuedJob | None = None


def encode_message(job: QueuedJob) -> str:
    envelope = f'{{"v":{FORMAT},"id":"{job.id}"'
    snapshot = job.model_dump_json()
    if len(snapshot.encode("utf-8")) <= _SNAPSHOT_LIMIT:
        return f'{envelope},"job":{snapshot}}}'
    return envelope + "}"


def decode_message(body: str) -> JobMessage:
    """The message in ``body``; raises :class:`UnreadableMessage` for anything else."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise UnreadableMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != FORMAT or not isinstance(data.get("id"), str):
        raise UnreadableMessage(f"not a job message (format {FORMAT} with an id)")
    snapshot = None
    if data.get("job") is not None:
        try:
            snapshot = QueuedJob.model_validate(data["job"])
        except ValidationError as exc:
            raise UnreadableMessage(f"invalid job snapshot: {exc}") from None
        if snapshot.id != data["id"]:
            raise UnreadableMessage("the snapshot is of another job than the id")
    return JobMessage(data["id"], snapshot)
