"""The rows of limits in the jobs table: gates, their parked jobs and limits' settings
(the layout is drawn in ``docs/design.md``).

Each gate has a partition of its own, ``gate-<12 hex digits of the SHA-256 of its
limit>-<24 of its key's>``, which no job shard (``j0``..``jf``) or other record's
partition shares: a range of ``gate-<limit's digits>-`` is one limit's gates, a range of
``gate-`` every limit's. In it:

- ``gate``: the gate: ``Limit``, ``Key`` (what the digests hide), ``HasWaiters`` (the
  listing's filter) and its JSON document cut into ``D0``, ``D1``, … (30,000 characters
  each, 16,384 if it holds any beyond ASCII: at most 64 KiB as UTF-16, one property),
  with ``Parts`` saying how many;
- ``w-<job id>``: a parked job (its JSON in ``Doc``); job ids sort by creation time, so
  the rows are oldest first.

A gate's version is its row's ETag. Limits' settings live in the partition
``limit-settings``, a row per limit keyed by its name (its JSON in ``Doc``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

from ..errors import InvalidInput, StorageError
from ..limits.model import Gate, LimitSettings, Waiter
from ..repositories._gates import (
    check_gate_id,
    gate_doc,
    gate_name,
    settings_doc,
    settings_from_doc,
    stored_gate,
    waiter_doc,
    waiter_from_doc,
)
from .table_entities import MAX_ENTITY

__all__ = [
    "GATE_ROW",
    "SETTINGS_PARTITION",
    "WAITERS_HIGH",
    "WAITERS_LOW",
    "after_token",
    "decode_gate",
    "decode_settings",
    "decode_waiter",
    "gate_partition",
    "gate_range",
    "gate_row",
    "is_etag",
    "row_name",
    "settings_row",
    "token_of",
    "waiter_key",
    "waiter_row",
]

GATE_ROW: Final = "gate"
SETTINGS_PARTITION: Final = "limit-settings"
_PREFIX: Final = "gate-"
#: Sorts right after ``-``: closes a range of ``…-<digits>`` partitions.
_AFTER_DASH: Final = "."
_WAITER: Final = "w-"
#: Row keys strictly between these are a gate's parked jobs (job ids are hex digits).
WAITERS_LOW: Final = _WAITER
WAITERS_HIGH: Final = _WAITER + "g"
_ASCII_CHUNK: Final = 30_000
#: Characters per part of a document beyond ASCII: at most 4 bytes each in UTF-16.
_CHUNK: Final = 16_384
_MAX_PARTS: Final = 64
#: A gate row's properties beside its document, in bytes at most (names, key, limit).
_ROW_EXTRA: Final = 8 * 1024
_TOKEN: Final = re.compile(r"^[0-9a-f]{12}-[0-9a-f]{24}$")
#: A weak ETag as Table Storage makes them: printable ASCII but quotes, quoted.
_ETAG: Final = re.compile(r'^W/"[!#-~]{1,200}"$')


def _digest(text: str, digits: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:digits]


def gate_partition(limit: str, key: str) -> str:
    return f"{_PREFIX}{_digest(limit, 12)}-{_digest(key, 24)}"


def gate_range(limit: str | None) -> tuple[str, str]:
    """Partition keys strictly between these are the gates of ``limit`` (of every limit
    with ``None``)."""
    prefix = _PREFIX if limit is None else f"{_PREFIX}{_digest(limit, 12)}-"
    return prefix, prefix[:-1] + _AFTER_DASH


def token_of(partition: str) -> str:
    """The continuation token of a listing after the gate in ``partition``."""
    return partition.removeprefix(_PREFIX)


def after_token(continuation: str | None) -> str | None:
    """The partition a :func:`token_of` token names; ``InvalidInput`` for another."""
    if continuation is None:
        return None
    if not isinstance(continuation, str) or not _TOKEN.match(continuation):
        raise InvalidInput(f"{continuation!r:.80} is not a continuation token of gates")
    return _PREFIX + continuation


def waiter_key(job_id: str) -> str:
    return _WAITER + job_id


def is_etag(version: str) -> bool:
    """Whether ``version`` can be the ETag of a row (what else is sent as one would be
    refused, or worse, read as a header of its own)."""
    return bool(_ETAG.match(version))


def gate_row(gate: Gate) -> dict[str, Any]:
    """The row of ``gate`` (the model bounds its size; checked here all the same, as
    Azurite does not enforce Table Storage's limits)."""
    doc = gate_doc(gate)
    ascii_only = doc.isascii()
    size = 2 * len(doc) if ascii_only else len(doc.encode("utf-16-le"))
    if size + _ROW_EXTRA > MAX_ENTITY:
        raise InvalidInput(
            f"gate {gate_name(gate.limit, gate.key)!r:.300} is {size:,} bytes as a table "
            f"row holds it: more than a row can hold ({MAX_ENTITY:,})"
        )
    chunk = _ASCII_CHUNK if ascii_only else _CHUNK
    parts = [doc[i : i + chunk] for i in range(0, len(doc), chunk)]
    return {
        "PartitionKey": gate_partition(gate.limit, gate.key),
        "RowKey": GATE_ROW,
        "Limit": gate.limit,
        "Key": gate.key,
        "HasWaiters": gate.has_waiters,
        "Parts": len(parts),
        **{f"D{n}": part for n, part in enumerate(parts)},
    }


def _ids(row: Mapping[str, Any]) -> tuple[str, str] | None:
    """The limit and key a gate row names, if they are a gate's and its partition's."""
    limit, key = row.get("Limit"), row.get("Key")
    try:
        ids = check_gate_id(limit, key)
    except InvalidInput:
        return None
    return ids if row.get("PartitionKey") == gate_partition(*ids) else None


def row_name(row: Mapping[str, Any]) -> str:
    """How a listing names the gate of ``row`` when it cannot read it: by its limit and
    key, or by its partition when those do not read either."""
    ids = _ids(row)
    return str(row.get("PartitionKey")) if ids is None else gate_name(*ids)


def decode_gate(row: Mapping[str, Any], etag: str) -> Gate:
    """The gate a gate row holds, at version ``etag``; ``StorageError`` if it cannot be
    read."""
    ids = _ids(row)
    if ids is None:
        raise StorageError(
            f"the gate row of partition {row.get('PartitionKey')!r:.80} cannot be read: its "
            "Limit and Key are not a gate's, or not this partition's"
        )
    parts = row.get("Parts")
    if not isinstance(parts, int) or isinstance(parts, bool) or not 1 <= parts <= _MAX_PARTS:
        raise StorageError(
            f"the stored gate {gate_name(*ids)!r:.300} cannot be read: its Parts property "
            "is missing or out of range"
        )
    chunks = [row.get(f"D{n}") for n in range(parts)]
    if not all(isinstance(chunk, str) for chunk in chunks):
        raise StorageError(
            f"the stored gate {gate_name(*ids)!r:.300} cannot be read: a part of its "
            "document is missing or not text"
        )
    return stored_gate(*ids, "".join(str(chunk) for chunk in chunks), etag)


def waiter_row(partition: str, waiter: Waiter) -> dict[str, Any]:
    return {
        "PartitionKey": partition,
        "RowKey": waiter_key(waiter.job_id),
        "Doc": waiter_doc(waiter),
    }


def decode_waiter(row: Mapping[str, Any]) -> Waiter:
    job_id = str(row["RowKey"]).removeprefix(_WAITER)
    doc = row.get("Doc")
    return waiter_from_doc(job_id, doc if isinstance(doc, str) else "")


def settings_row(settings: LimitSettings) -> dict[str, Any]:
    return {
        "PartitionKey": SETTINGS_PARTITION,
        "RowKey": settings.limit,
        "Doc": settings_doc(settings),
    }


def decode_settings(row: Mapping[str, Any], etag: str) -> LimitSettings:
    """The settings a settings row holds; ``StorageError`` if they cannot be read (or
    are another limit's)."""
    doc, limit = row.get("Doc"), row.get("RowKey")
    settings = settings_from_doc(doc if isinstance(doc, str) else "", etag)
    if settings.limit != limit:
        raise StorageError(f"the settings row {limit!r:.80} holds those of {settings.limit!r}")
    return settings
