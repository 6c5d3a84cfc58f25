"""The rows of sequences in the jobs table, their keys and versions (the layout is drawn
in ``docs/design.md``).

A sequence lives in its owner's job shard partition ``j0``..``jf`` (the last digit of its
id, of the form of a job id), next to its owner's jobs, so that every write of a sequence
is one entity-group transaction that also holds its change row (``v|…``, the change feed:
no request of its own). Its rows, keys that no job row uses:

- ``q|<complement of id>``: the sequence; newest first within the shard;
- ``w|<owner>|<complement of id>``: a pointer (its key only), for one owner's sequences:
  written with the record, never moved (an owner never changes);
- ``x|<complement of id>``: a pointer while the sequence is active: the sweep's index,
  deleted by the write that ends it;
- ``e|<µs it ended, 18 digits>|<complement of id>``: a pointer once it ended, with its
  ``Owner``: the purge's index, oldest end first, written by the write that ends it (or
  by the insert of an ended one); the record says its key (``Ended``), so that a delete
  finds it.

Pointers, not copies: a record may be large, and only the record is ever rewritten, so a
write carries it once. The owner is escaped as in job keys; one too long once escaped is
replaced by ``|`` and its SHA-256. The record is its JSON (at most 192 KiB as UTF-8) cut
into properties ``Doc0``, ``Doc1``, … of at most 16,384 characters each (so at most 64 KiB
as UTF-16, one property), with ``Parts`` saying how many; ``Owner`` lets a delete find
every row whatever the document holds.

A version is the record's ETag, then, after ``~``, whether the sequence was active and its
owner's digest, so that an update removes the active pointer without reading first and
refuses a change of owner.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ..errors import ConcurrencyConflict, CorruptSequenceRecord
from ..repositories._sequences import ended_at, sequence_doc, sequence_from_json
from ..sequences.model import Sequence
from . import table_keys as keys

__all__ = [
    "ReadVersion",
    "SequenceRows",
    "active_key",
    "active_range",
    "decode_sequence",
    "ended_key",
    "ended_range",
    "id_of",
    "listing_range",
    "owner_digest",
    "owner_prefix",
    "purged_keys",
    "read_version",
    "record_key",
    "rows_of",
    "stored_keys",
    "version_of",
]

_MARK: Final = "~"
#: Characters per ``Doc<n>`` property: at most 4 bytes each in UTF-16, so 64 KiB.
CHUNK: Final = 16_384
_MAX_PARTS: Final = 64
_OWNER_UNITS: Final = 400
_HEX16: Final = re.compile(r"^[0-9a-f]{16}$")
_COMPLEMENT: Final = str.maketrans("0123456789abcdef", "fedcba9876543210")
_AFTER_HEX: Final = "g"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_ENDED_DIGITS: Final = re.compile(r"^[0-9]{18}$")


def _complement(hex_digits: str) -> str:
    return hex_digits.translate(_COMPLEMENT)


def owner_digest(owner: str) -> str:
    return hashlib.blake2b(owner.encode("utf-8"), digest_size=8).hexdigest()


def record_key(sequence_id: str) -> str:
    return "q|" + _complement(sequence_id)


def active_key(sequence_id: str) -> str:
    return "x|" + _complement(sequence_id)


def _micros(moment: datetime) -> str:
    return f"{max(0, (moment - _EPOCH) // _MICROSECOND):018d}"


def ended_key(sequence_id: str, ended: datetime) -> str:
    return f"e|{_micros(ended)}|{_complement(sequence_id)}"


def ended_range(before: datetime) -> tuple[str, str]:
    """Row keys strictly between these are the ended pointers of sequences that ended
    before ``before`` (after the epoch), oldest end first."""
    return "e|", f"e|{_micros(before)}"


def owner_prefix(owner: str) -> str:
    """The prefix of the owner copies of ``owner``'s sequences."""
    token = keys.escape(owner)
    if len(token.encode("utf-16-le")) // 2 > _OWNER_UNITS:
        token = "|" + hashlib.sha256(owner.encode("utf-8")).hexdigest()
    return f"w|{token}|"


def listing_range(prefix: str, after: str | None) -> tuple[str, str]:
    """Row keys strictly between these are the copies under ``prefix`` (``q|``, ``x|`` or
    an owner's) of sequences older than ``after`` (all of them with ``None``)."""
    low = prefix if after is None else prefix + _complement(after)
    return low, prefix + _AFTER_HEX


def active_range(after: str | None) -> tuple[str, str]:
    return listing_range("x|", after)


def id_of(row_key: str) -> str:
    """The sequence id of a record or a copy, from its key alone."""
    return _complement(row_key.rsplit("|", 1)[-1])


@dataclass(frozen=True, slots=True)
class SequenceRows:
    """Every row of one sequence as a write leaves it."""

    record: dict[str, Any]
    owner_pointer: dict[str, Any]
    #: The active pointer (``None``: not active).
    active_pointer: dict[str, Any] | None
    #: The ended pointer (``None``: still active).
    ended_pointer: dict[str, Any] | None


def rows_of(sequence: Sequence) -> SequenceRows:
    """The rows of ``sequence`` (the store's gate has bounded its size)."""
    doc = sequence_doc(sequence)
    parts = [doc[i : i + CHUNK] for i in range(0, len(doc), CHUNK)]
    partition = keys.job_partition(sequence.id)
    ended = ended_at(sequence)
    record = {
        "PartitionKey": partition,
        "RowKey": record_key(sequence.id),
        "Owner": sequence.owner,
        "Parts": len(parts),
        **{f"Doc{n}": part for n, part in enumerate(parts)},
        **({} if ended is None else {"Ended": _micros(ended)}),
    }
    pointer = {"PartitionKey": partition}
    owner_key = owner_prefix(sequence.owner) + _complement(sequence.id)
    return SequenceRows(
        record=record,
        owner_pointer={**pointer, "RowKey": owner_key},
        active_pointer={**pointer, "RowKey": active_key(sequence.id)} if ended is None else None,
        ended_pointer=None
        if ended is None
        else {**pointer, "RowKey": ended_key(sequence.id, ended), "Owner": sequence.owner},
    )


def decode_sequence(row: Mapping[str, Any], etag: str) -> Sequence:
    """The sequence a record holds, with the version of that record (whose ETag is
    ``etag``); ``CorruptSequenceRecord`` if it cannot be read."""
    sequence_id = id_of(str(row["RowKey"]))
    parts = row.get("Parts")
    if not isinstance(parts, int) or isinstance(parts, bool) or not 1 <= parts <= _MAX_PARTS:
        raise CorruptSequenceRecord(sequence_id, "its Parts property is missing or out of range")
    chunks = [row.get(f"Doc{n}") for n in range(parts)]
    if not all(isinstance(chunk, str) for chunk in chunks):
        raise CorruptSequenceRecord(sequence_id, "a Doc property is missing or not text")
    sequence = sequence_from_json(sequence_id, "".join(str(c) for c in chunks), "")
    return sequence.model_copy(update={"version": version_of(etag, sequence)})


def version_of(etag: str, sequence: Sequence) -> str:
    """The version of ``sequence`` whose record's ETag is ``etag``."""
    active = "a" if sequence.is_active else "-"
    return _MARK.join((etag, active, owner_digest(sequence.owner)))


@dataclass(frozen=True, slots=True)
class ReadVersion:
    """What a version says: the record's ETag, whether the sequence was active then, and
    its owner's digest."""

    etag: str
    active: bool
    owner_digest: str


def read_version(sequence: Sequence) -> ReadVersion:
    """The parts of ``sequence.version``; ``ConcurrencyConflict`` if this store made no
    such version."""
    parts = (sequence.version or "").rsplit(_MARK, 2)
    if len(parts) != 3:
        raise ConcurrencyConflict(sequence.id, kind="sequence")
    etag, active, owner = parts
    if not etag or active not in ("a", "-") or not _HEX16.match(owner):
        raise ConcurrencyConflict(sequence.id, kind="sequence")
    return ReadVersion(etag, active == "a", owner)


def stored_keys(row: Mapping[str, Any]) -> list[str]:
    """The keys of every row of the sequence whose record is ``row``, from its key and
    its ``Owner`` property (not its document)."""
    sequence_id = id_of(str(row["RowKey"]))
    found = [record_key(sequence_id), active_key(sequence_id)]
    owner = row.get("Owner")
    if isinstance(owner, str) and owner:
        found.append(owner_prefix(owner) + _complement(sequence_id))
    ended = row.get("Ended")
    if isinstance(ended, str) and _ENDED_DIGITS.match(ended):
        found.append(f"e|{ended}|{_complement(sequence_id)}")
    return found


def purged_keys(pointer: Mapping[str, Any]) -> list[str]:
    """The keys of every row of the ended sequence whose ended pointer is ``pointer``
    (the pointer last), from the pointer alone."""
    ended = str(pointer["RowKey"])
    sequence_id = id_of(ended)
    found = [record_key(sequence_id)]
    owner = pointer.get("Owner")
    if isinstance(owner, str) and owner:
        found.append(owner_prefix(owner) + _complement(sequence_id))
    return [*found, ended]
