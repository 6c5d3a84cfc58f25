"""The change feed as every adapter stores it: a change's document, the digest that tells
whether a write changes what a watcher sees, and the sequence positions of the stores
whose commits have an order (memory and SQLite).

A change is stored as the JSON of its :class:`~queued_jobs.models.JobChange` without its
partition and position (the store knows those from where the change is kept) and read
back by putting them in again. Memory and SQLite keep one partition, :data:`ALL`, whose
positions are a counter written as :data:`SEQUENCE_DIGITS` decimal digits, so that
comparing them as strings compares the numbers.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

from pydantic import ValidationError
from pydantic_core import to_json

from ..errors import InvalidInput
from ..models import JobChange, QueuedJob, change_of, watched
from .base import CHANGE_PAGE_SIZE

__all__ = [
    "ALL",
    "ONE_PARTITION",
    "SEQUENCE_DIGITS",
    "change_doc",
    "change_from_doc",
    "check_change_limit",
    "check_partition",
    "parse_sequence",
    "placed_doc",
    "sequence_position",
    "watched_digest",
]

#: The one feed partition of memory and SQLite: every owner's changes, in commit order.
ALL: Final = "all"
ONE_PARTITION: Final = (ALL,)
#: A sequence position is the counter in this many decimal digits (SQLite's rowids fit).
SEQUENCE_DIGITS: Final = 19
_SEQUENCE: Final = re.compile(rf"[0-9]{{{SEQUENCE_DIGITS}}}")
#: The last position a sequence can reach (SQLite's largest rowid).
_LAST: Final = f"{2**63 - 1:0{SEQUENCE_DIGITS}d}"
_PLACED: Final = frozenset({"partition", "position"})
#: A job's change is stored without its kind (the default), as before kinds were known.
_PLACED_JOB: Final = frozenset({"partition", "position", "kind"})
#: ... and without output when the write added none, as before output was kept.
_QUIET: Final = frozenset({"output", "output_length"})


def watched_digest(job: QueuedJob) -> str:
    """16 hex digits naming ``job``'s :func:`~queued_jobs.models.watched` state: two
    states with the same digest are taken as the same (a chance of 2^-64 per write of
    missing a change)."""
    return hashlib.blake2b(to_json(watched(job)), digest_size=8).hexdigest()


def change_doc(job: QueuedJob) -> str:
    """The document of the change that writing ``job`` records (without its place)."""
    change = change_of(job, partition=ALL, position="0")
    return change.model_dump_json(exclude=_left_out(change, _PLACED_JOB))


def placed_doc(change: JobChange) -> str:
    """The document of ``change`` as stored (without its place)."""
    return change.model_dump_json(exclude=_left_out(change, _PLACED))


def _left_out(change: JobChange, placed: frozenset[str]) -> set[str]:
    """What a stored change leaves out: its place, and the fields it has no value for
    that changes stored before them never had (output, a trace context)."""
    left = set(placed)
    if change.output is None and change.output_length is None:
        left |= _QUIET
    if change.trace_context is None:
        left.add("trace_context")
    return left


def change_from_doc(partition: str, position: str, doc: object) -> JobChange | None:
    """The change stored as ``doc`` at ``position`` of ``partition``; ``None`` for a
    document that is not one (a foreign writer's row): the feed passes over it."""
    if not isinstance(doc, str) or not doc.startswith("{") or len(doc) < 3:
        return None
    placed = to_json({"partition": partition, "position": position}).decode()
    try:
        return JobChange.model_validate_json(f"{placed[:-1]},{doc[1:]}")
    except ValidationError:
        return None


def check_change_limit(limit: int) -> None:
    """Refuse a ``read_changes`` limit outside 1 .. :data:`CHANGE_PAGE_SIZE`."""
    if not isinstance(limit, int) or not 1 <= limit <= CHANGE_PAGE_SIZE:
        raise InvalidInput(f"a change batch holds 1 to {CHANGE_PAGE_SIZE} changes, not {limit!r}")


def check_partition(partition: object, partitions: tuple[str, ...]) -> str:
    """``partition`` if it is one of this store's feed partitions, else ``InvalidInput``."""
    if not isinstance(partition, str) or partition not in partitions:
        raise InvalidInput(f"{partition!r:.80} is not a change feed partition of this store")
    return partition


def sequence_position(number: int) -> str:
    """The position of the ``number``-th change of a sequence."""
    return f"{number:0{SEQUENCE_DIGITS}d}"


def parse_sequence(position: object) -> int:
    """The number a sequence position names; ``InvalidInput`` if it is not one."""
    if not isinstance(position, str) or not _SEQUENCE.fullmatch(position) or position > _LAST:
        raise InvalidInput(f"{position!r:.80} is not a change feed position of this store")
    return int(position)
