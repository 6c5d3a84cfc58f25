"""Partition and row keys of the jobs table (the layout is drawn in ``docs/design.md``).

Each job lives in its owner's shard partition ``j0``..``jf`` (the last digit of its id) as
several kinds of row, so every write of a job is one entity-group transaction:

=================================================  =====================================
``t|<complement of id>``                           the job; newest first within the shard
``o|<owner>|<complement of id>``                   a full copy: one owner's jobs
``s|<status>|<complement of id>``                  a pointer: one status's jobs
``y|<type>|<complement of id>``                    a pointer: one type's jobs
``k|<type>|<status>|<complement of id>``           a pointer: one type's jobs of a status
``p|<owner>|<status>|<complement of id>``          a pointer (with ``JobType``): one owner's
                                                   jobs of a status
``g|<tag>|<complement of id>``                     a pointer (with ``Owner``, ``JobType``):
                                                   one tag's jobs
``a|<id>|<attempt number, 5 digits>``              one row per attempt
``d|<due, 16 hex digits>|<id>``                    the due index of a scheduled or queued job
``l|<due, 16 hex digits>|<id>``                    the due index of a running job (its lease)
=================================================  =====================================

Owners, types and tags are escaped (:func:`escape`). Copies and pointers sort newest first,
so a creation window is a key range of each. A pointer or due row holds (next to nothing
but) its key: it points at the job row. Pointers are written with the job, moved with its
status (``s|``, ``k|``, ``p|``) in the same transaction, and deleted with it; a tag's
pointers never move (a job's tags never change). A due row is named by
its job's rows in their ``Due`` property (``repositories._due`` says what "due" is); it is
written, moved and deleted in the job's own transactions, and a due row its job no longer
names is stale.

Unique-key reservations live in their own partition each: ``u|<escaped key>`` / ``u``;
the store's secrets in the partition ``s`` (``table_secrets``); hosts' presences in the
partition ``presence``, one row per host (``table_presences``); schedules in the partition
``schedule`` and each schedule's fired slots in ``slots|<schedule id>``
(``table_schedule_rows``); each limit's gate, with its parked jobs, in a partition of its
own, ``gate-<digests of its limit and key>``, and limits' settings in ``limit-settings``
(``table_gate_rows``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from ..errors import InvalidKey
from ..models import OWNER_SHARDS

__all__ = [
    "MAX_KEY_LENGTH",
    "attempt_key",
    "attempts_range",
    "due_key",
    "due_of",
    "due_ranges",
    "escape",
    "job_id_of",
    "job_key",
    "job_partition",
    "listing_prefix",
    "owner_key",
    "owner_status_key",
    "shard_partitions",
    "status_key",
    "tag_key",
    "tag_prefix",
    "time_bound",
    "time_range",
    "type_key",
    "type_status_key",
    "unique_partition",
]

#: Azure Table Storage keys are at most 1 KiB.
MAX_KEY_LENGTH: Final = 1024
UNIQUE_ROW: Final = "u"
_ID = re.compile(r"^[0-9a-f]{29}$")
# Characters Table Storage forbids in keys, the separator we use, and the escape itself.
_FORBIDDEN = re.compile(r"[%/\\#?|]")
_COMPLEMENT = str.maketrans("0123456789abcdef", "fedcba9876543210")
#: Sorts after every hex digit: closes a range of ``<prefix><hex...>`` keys.
_AFTER_HEX: Final = "g"


def escape(value: str) -> str:
    """``value`` with the characters keys can't hold (and ``|``, ``%``) percent-encoded."""
    return _FORBIDDEN.sub(lambda m: f"%{ord(m.group()):02X}", value)


def _checked(key: str, what: str) -> str:
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"{what} is too long to be a table key ({len(key)} > {MAX_KEY_LENGTH})")
    return key


def _complement(job_id: str) -> str:
    return job_id.translate(_COMPLEMENT)


def job_partition(job_id: str) -> str:
    """The partition of a job, from its id alone; ``None``-like ids raise ``InvalidKey``."""
    if not _ID.match(job_id):
        raise InvalidKey(f"{job_id!r} is not a job id (29 lowercase hex digits)")
    return f"j{job_id[-1]}"


def shard_partitions() -> list[str]:
    return [f"j{shard:x}" for shard in range(OWNER_SHARDS)]


def job_key(job_id: str) -> str:
    return "t|" + _complement(job_id)


def job_id_of(row_key: str) -> str:
    """The id of the job a job, owner-copy or attempt row belongs to, from its key alone
    (what names a row whose properties cannot be read)."""
    kind, _, rest = row_key.partition("|")
    if kind == "a":
        return rest.split("|", 1)[0]
    if kind in ("d", "l"):
        return rest.rsplit("|", 1)[-1]
    return _complement(rest.rsplit("|", 1)[-1])


def owner_key(owner: str, job_id: str) -> str:
    return _checked(f"o|{escape(owner)}|{_complement(job_id)}", "the owner")


_DUE_KEY = re.compile(r"^([dl])\|([0-9a-f]{16})\|([0-9a-f]{29})$")


def due_key(job_id: str, *, running: bool, micros: int) -> str:
    """The due row of a job due at ``micros`` (``l|``: a running job's lease)."""
    return f"{'l' if running else 'd'}|{micros:016x}|{job_id}"


def due_of(row_key: object) -> tuple[int, str] | None:
    """The moment and job id a due row key names, or ``None`` if it is not one."""
    match = _DUE_KEY.match(row_key) if isinstance(row_key, str) else None
    return None if match is None else (int(match.group(2), 16), match.group(3))


def due_ranges(
    *, queued: bool, running: bool, due_by: int, after: tuple[int, str] | None
) -> list[tuple[str, str]]:
    """Row keys strictly between each pair are the due rows (of scheduled and queued jobs,
    of running ones) due at or before ``due_by``, after the moment and id ``after``."""
    ranges = []
    for prefix, wanted in (("d|", queued), ("l|", running)):
        if wanted:
            low = prefix if after is None else f"{prefix}{after[0]:016x}|{after[1]}"
            ranges.append((low, f"{prefix}{due_by:016x}|{_AFTER_HEX}"))
    return ranges


def status_key(status: str, job_id: str) -> str:
    return f"s|{status}|{_complement(job_id)}"


def listing_prefix(
    *, owner: str | None = None, status: str | None = None, job_type: str | None = None
) -> str:
    """The prefix of the rows that list the jobs of ``owner``, ``status`` and ``job_type``
    (any of them; all three: the owner's pointers of that status, filtered by type)."""
    if owner is not None:
        prefix = f"o|{escape(owner)}|" if status is None else f"p|{escape(owner)}|{status}|"
    elif job_type is not None:
        typed = escape(job_type)
        prefix = f"y|{typed}|" if status is None else f"k|{typed}|{status}|"
    else:
        prefix = "t|" if status is None else f"s|{status}|"
    return _checked(prefix, "the listing's owner or type")


def tag_prefix(tag: str) -> str:
    """The prefix of the pointers that list one tag's jobs."""
    return _checked(f"g|{escape(tag)}|", "the tag")


def tag_key(tag: str, job_id: str) -> str:
    return _checked(tag_prefix(tag) + _complement(job_id), "the tag")


def type_key(job_type: str, job_id: str) -> str:
    return _checked(listing_prefix(job_type=job_type) + _complement(job_id), "the owner or type")


def type_status_key(job_type: str, status: str, job_id: str) -> str:
    return _checked(
        listing_prefix(job_type=job_type, status=status) + _complement(job_id), "the owner or type"
    )


def owner_status_key(owner: str, status: str, job_id: str) -> str:
    return _checked(
        listing_prefix(owner=owner, status=status) + _complement(job_id), "the owner or type"
    )


def attempt_key(job_id: str, number: int) -> str:
    return f"a|{job_id}|{number:05d}"


def attempts_range(job_id: str) -> tuple[str, str]:
    return f"a|{job_id}|", f"a|{job_id}|~"


def unique_partition(key: str) -> str:
    return _checked("u|" + escape(key), "the unique key")


def time_bound(moment: datetime, prefix: str = "t|") -> str:
    """The row key (of job rows, or of the rows under ``prefix``) that jobs created in
    ``moment``'s millisecond sort at or before.

    Rows of jobs created before ``moment``'s millisecond sort after it (newest first).
    """
    millis = max(int(moment.timestamp() * 1000), 0)
    return prefix + _complement(f"{millis:012x}")


def time_range(
    after_id: str | None,
    created_from: datetime | None,
    created_before: datetime | None,
    *,
    prefix: str = "t|",
) -> tuple[str, str]:
    """Row keys under ``prefix`` (job rows by default; :func:`listing_prefix`) strictly
    between these cover the window, older than ``after_id``."""
    low = prefix
    if created_before is not None:
        # Jobs of the millisecond of ``created_before`` may still be earlier by microseconds.
        low = max(low, time_bound(created_before, prefix))
    if after_id is not None:
        low = max(low, prefix + _complement(after_id))
    high = prefix + _AFTER_HEX
    if created_from is not None:
        high = time_bound(created_from, prefix) + _AFTER_HEX
    return low, high
