"""The body of a job's queue message: its id, and a snapshot of the record when it fits.

With the snapshot (and its version) a worker claims the job with one conditional write and
no read; when the job changed since, the write conflicts and the worker reads it then.
The id is always in the body because a poison queue keeps nothing else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from pydantic import ValidationError

from ..models import QueuedJob
from ..queues.base import MAX_BODY_BYTES

__all__ = ["JobMessage", "UnreadableMessage", "decode_message", "encode_message"]

FORMAT: Final = 1
#: Leave room for the envelope; a larger record goes without its snapshot.
_SNAPSHOT_LIMIT: Final = MAX_BODY_BYTES - 200
#: The deepest nesting a job message may have: its envelope and snapshot around a job's
#: data, far deeper than any record a store can read back. Deeper bodies are refused
#: before parsing, so that no body can make the decoder recurse.
MAX_DEPTH: Final = 256
#: The form of ``new_job_id``: a body naming anything else is no job message of ours.
_JOB_ID = re.compile(r"[0-9a-f]{29}")
#: A JSON string, or an unterminated one to the end: possessive, so that removing every
#: string is one left-to-right pass whatever the body.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+"?', re.DOTALL)
_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


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
    """The message in ``body``; raises :class:`UnreadableMessage` for anything else.

    Any body (any size, nesting or characters) either decodes or raises
    :class:`UnreadableMessage`; nothing else escapes.
    """
    if not isinstance(body, str):  # a host or store handing over something else
        raise UnreadableMessage(f"not text but {type(body).__name__}")
    if len(body) > MAX_BODY_BYTES:  # characters: each is at least one byte on the wire
        raise UnreadableMessage(f"larger than any job message ({len(body)} characters)")
    if _nesting(body) > MAX_DEPTH:
        raise UnreadableMessage(f"nested deeper than any job message ({MAX_DEPTH} levels)")
    try:
        return _decoded(body)
    except UnreadableMessage:
        raise
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        raise UnreadableMessage(f"cannot be read: {type(exc).__name__}: {exc}") from None


def _decoded(body: str) -> JobMessage:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise UnreadableMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != FORMAT or not isinstance(data.get("id"), str):
        raise UnreadableMessage(f"not a job message (format {FORMAT} with an id)")
    if not _JOB_ID.fullmatch(data["id"]):
        raise UnreadableMessage(f"not a job message: {data['id'][:100]!r} is no job id")
    snapshot = None
    if data.get("job") is not None:
        try:
            snapshot = QueuedJob.model_validate(data["job"])
        except ValidationError as exc:
            raise UnreadableMessage(f"invalid job snapshot: {exc}") from None
        if snapshot.id != data["id"]:
            raise UnreadableMessage("the snapshot is of another job than the id")
    return JobMessage(data["id"], snapshot)


def _nesting(body: str) -> int:
    """How deep brackets nest in ``body`` outside JSON strings, without parsing it.

    Costs two counts for a body with few brackets (every job message); otherwise one pass
    of regular expressions and a running sum, all linear in the body's length.
    """
    if body.count("[") + body.count("{") <= MAX_DEPTH:
        return 0
    brackets = _BRACKETS.sub("", _STRING.sub("", body))
    return max(accumulate(_STEP[c] for c in brackets), default=0)
