"""The version tokens of jobs on Azure Table Storage: which row guards an update, and which
index rows the job had when it was read.

A version names the row it was read from (``t:`` the job row, ``o:`` its owner copy): both
change in every transaction, so either one's ETag guards an update equally well. After the
ETag, separated by ``~``, come the job's due row, the status its pointers are filed under
and the digest of what a watcher sees of it (as that ETag's write left them), so that the
update replacing the job moves those rows too, and records a change only if a watcher
sees one, without reading the job first. A version without the digest (made by an older
version of this code, or read from a row written without it) records a change.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConcurrencyConflict
from ..models import JobStatus
from . import table_keys as keys

_DIGEST: Final = re.compile(r"[0-9a-f]{16}")

__all__ = [
    "FROM_JOB_ROW",
    "FROM_OWNER_ROW",
    "STATUSES",
    "ReadVersion",
    "due_row_of",
    "read_version",
    "version_of",
]

FROM_JOB_ROW: Final = "t:"
FROM_OWNER_ROW: Final = "o:"
_KINDS: Final = (FROM_JOB_ROW, FROM_OWNER_ROW)
_MARK: Final = "~"
STATUSES: Final = frozenset(status.value for status in JobStatus)


def version_of(entity: Mapping[str, Any], etag: str) -> str:
    """The version of the job copy ``entity`` whose ETag is ``etag``."""
    row_key: str = entity["RowKey"]
    kind = FROM_OWNER_ROW if row_key.startswith("o|") else FROM_JOB_ROW
    due = entity.get("Due")
    due = due if isinstance(due, str) and keys.due_of(due) else ""
    listed = entity.get("Listed")
    listed = listed if listed in STATUSES else ""
    watched = entity.get("Watched")
    watched = watched if isinstance(watched, str) and _DIGEST.fullmatch(watched) else ""
    return f"{kind}{etag}{_MARK}{due}{_MARK}{listed}{_MARK}{watched}"


def due_row_of(job_id: str, due: object) -> str | None:
    """``due`` if it names a due row of job ``job_id`` (a row's ``Due``, a version's)."""
    found = keys.due_of(due)
    return due if found is not None and found[1] == job_id and isinstance(due, str) else None


@dataclass(frozen=True, slots=True)
class ReadVersion:
    """What a version says: the row read (its kind and ETag) and the index rows then."""

    kind: str
    etag: str
    #: The row key of the job's due row, if it had one.
    due_row: str | None
    #: The status the job's pointers were filed under, if any.
    listed: str | None
    #: The digest of the job's watched state (``repositories._changes.watched_digest``),
    #: if the version carries one.
    watched: str | None = None


def read_version(job_id: str, version: str | None) -> ReadVersion:
    """The parts of ``version``; ``ConcurrencyConflict`` if this store made no such one."""
    kind, body = (version or "")[:2], (version or "")[2:]
    if kind not in _KINDS:
        raise ConcurrencyConflict(job_id)
    etag, was_due, was_listed, was_watched = [*body.split(_MARK, 3), "", "", ""][:4]
    listed = was_listed if was_listed in STATUSES else None
    watched = was_watched if _DIGEST.fullmatch(was_watched) else None
    return ReadVersion(kind, etag, due_row_of(job_id, was_due), listed, watched)
