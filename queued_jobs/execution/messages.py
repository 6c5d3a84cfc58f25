"""The body of a job's queue message: its id, and a signed snapshot of the record when it fits.

With the snapshot (and its version) a worker claims the job with one conditional write and
no read; when the job changed since, the write conflicts and the worker reads it then.
The id is always in the body because a poison queue keeps nothing else.

The queue is not trusted: whoever may peek and send messages could copy a job's message
with another request, more attempts or no run-at time but the same version. So a snapshot
is signed (HMAC-SHA256 with the store's message key, :meth:`JobRepository.message_key`,
over the snapshot's exact text) and used only if the signature holds; any other snapshot
is ignored and the job is read from its record, which is the only source of what it does.
The signature costs no storage request per job: the key is read once per process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

from pydantic import ValidationError

from ..models import QueuedJob
from ..queues.base import MAX_BODY_BYTES
from ..telemetry.logs import library_logger

__all__ = [
    "JobMessage",
    "UnreadableMessage",
    "decode_message",
    "encode_job_id",
    "encode_message",
]

log = library_logger("queued_jobs")

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
#: What a signed message starts with: a snapshot's text runs from there to the last ``}``.
_SIGNED = re.compile(
    rf'\{{"v":{FORMAT},"id":"([0-9a-f]{{29}})","sig":"([A-Za-z0-9_-]{{43}})"(,"job":)?'
)
#: Signatures of other uses of the key can never be taken for a snapshot's.
_PURPOSE: Final = b"queued-jobs job snapshot\n"


class UnreadableMessage(ValueError):
    """A queue message that is not a job message of this format."""


@dataclass(frozen=True, slots=True)
class JobMessage:
    job_id: str
    #: The record as it was sent, if the message carried one signed with the store's key.
    snapshot: QueuedJob | None = None
    #: Whether this store sent the message (its signature holds): a body anyone could have
    #: written names a job, but proves nothing about it.
    signed: bool = False


def _signature(key: bytes, job_id: str, snapshot: str) -> str:
    text = _PURPOSE + job_id.encode("ascii") + b"\n" + snapshot.encode("utf-8")
    digest = hmac.new(key, text, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def encode_message(job: QueuedJob, key: bytes, *, snapshot: bool = True) -> str:
    """The message of ``job``: its id and its record if it fits (and ``snapshot``), signed
    with ``key``."""
    envelope = f'{{"v":{FORMAT},"id":"{job.id}"'
    record = job.model_dump_json() if snapshot else ""
    if record and len(record.encode("utf-8")) <= _SNAPSHOT_LIMIT:
        signature = _signature(key, job.id, record)
        return f'{envelope},"sig":"{signature}","job":{record}}}'
    return encode_job_id(job.id, key)


def encode_job_id(job_id: str, key: bytes) -> str:
    """A message naming job ``job_id`` alone, signed with ``key`` (a parked job woken:
    whoever handles it reads the record)."""
    return f'{{"v":{FORMAT},"id":"{job_id}","sig":"{_signature(key, job_id, "")}"}}'


def decode_message(body: str, key: bytes | None = None) -> JobMessage:
    """The message in ``body``; raises :class:`UnreadableMessage` for anything else.

    Any body (any size, nesting or characters) either decodes or raises
    :class:`UnreadableMessage`; nothing else escapes. The snapshot is kept only if it is
    signed with ``key``; without a key (only the id is wanted) it is never kept.
    """
    if not isinstance(body, str):  # a host or store handing over something else
        raise UnreadableMessage(f"not text but {type(body).__name__}")
    if len(body) > MAX_BODY_BYTES:  # characters: each is at least one byte on the wire
        raise UnreadableMessage(f"larger than any job message ({len(body)} characters)")
    if _nesting(body) > MAX_DEPTH:
        raise UnreadableMessage(f"nested deeper than any job message ({MAX_DEPTH} levels)")
    try:
        return _signed(body, key) or _decoded(body)
    except UnreadableMessage:
        raise
    except (ValueError, TypeError, RecursionError, MemoryError) as exc:
        raise UnreadableMessage(f"cannot be read: {type(exc).__name__}: {exc}") from None


def _signed(body: str, key: bytes | None) -> JobMessage | None:
    """The message with its snapshot, if ``body`` is one this store signed; else ``None``."""
    if key is None or not body.endswith("}"):
        return None
    match = _SIGNED.match(body)
    if match is None:
        return None
    job_id, signature, with_snapshot = match.groups()
    snapshot = body[match.end() : -1] if with_snapshot else ""
    if not with_snapshot and len(body) != match.end() + 1:
        return None
    if not hmac.compare_digest(signature, _signature(key, job_id, snapshot)):
        log.warning(
            "job %s: its message is not signed with this store's key (sent by another "
            "store, or forged); its snapshot is ignored and the job read from its record",
            job_id,
        )
        return None
    if not with_snapshot:
        return JobMessage(job_id, signed=True)
    try:
        job = QueuedJob.model_validate_json(snapshot)
    except ValidationError as exc:  # signed by us, so written by another version of us
        log.warning("job %s: its message's snapshot is not readable (%s)", job_id, exc)
        return JobMessage(job_id, signed=True)
    return JobMessage(job_id, job if job.id == job_id else None, signed=True)


def _decoded(body: str) -> JobMessage:
    """The id of any other job message; a snapshot it carries is not trusted, so not read."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise UnreadableMessage(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != FORMAT or not isinstance(data.get("id"), str):
        raise UnreadableMessage(f"not a job message (format {FORMAT} with an id)")
    if not _JOB_ID.fullmatch(data["id"]):
        raise UnreadableMessage(f"not a job message: {data['id'][:100]!r} is no job id")
    return JobMessage(data["id"])


def _nesting(body: str) -> int:
    """How deep brackets nest in ``body`` outside JSON strings, without parsing it.

    Costs two counts for a body with few brackets (every job message); otherwise one pass
    of regular expressions and a running sum, all linear in the body's length.
    """
    if body.count("[") + body.count("{") <= MAX_DEPTH:
        return 0
    brackets = _BRACKETS.sub("", _STRING.sub("", body))
    return max(accumulate(_STEP[c] for c in brackets), default=0)
