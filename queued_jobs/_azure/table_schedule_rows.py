"""The rows of schedules and slot markers in the jobs table, their keys and versions
(the layout is drawn in ``docs/design.md``).

Every schedule lives in the partition ``schedule``, which no job shard (``j0``..``jf``),
unique key (``u|…``), secret (``s``) or presence (``presence``) shares, so that every
write of a schedule is one entity-group transaction, and the schedules due are one range:

- ``r|<complement of id>``: the schedule; newest first;
- ``o|<owner>|<complement of id>``: a full copy, for one owner's schedules;
- ``d|<next slot, 16 hex digits of µs>|<id>``: a full copy while it is due-able (not
  paused, a next slot): the due index;
- ``n|<32 hex digits: BLAKE2b of owner and name>``: the name's reservation.

The owner is escaped as in job keys (``table_keys.escape``); one too long once escaped (a
key is at most 512 UTF-16 code units) is replaced by ``|`` and its SHA-256, a form no
escaped owner takes (their ``|`` is escaped). A copy carries the record as ``Doc`` (JSON
without the request) and ``Request`` (the request's JSON: at most 32 KiB as UTF-8, so at
most 64 KiB as UTF-16, one property), and ``Owner``, ``Name``, ``Due`` (its due copy's
key) and ``NameKey``, from which a delete finds every row even when ``Doc`` does not read.

A slot's marker lives in the partition ``slots|<schedule id>`` (one per schedule), row key
the complement of the slot's microseconds since 1970 as 16 hex digits (the model refuses
earlier slots): newest first, and a second insert of a slot is the same key (HTTP 409).

A version names the copy it was read from (``r:``, ``o:`` or ``d:``) and its ETag: every
transaction rewrites (or moves) every copy, so each copy's ETag guards an update equally
well. After it, separated by ``~``: the due moment, the owner's digest and the name's, as
that ETag's write left them, so that an update moves the due copy and the name's
reservation without reading the schedule first, and refuses a change of owner.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic_core import to_json

from ..errors import ConcurrencyConflict, CorruptScheduleRecord, InvalidKey, PayloadTooLarge
from ..repositories._due import due_micros
from ..repositories._schedules import marker_from_json, schedule_from_json
from ..schedules.model import Schedule, SlotMarker, is_schedule_id
from . import table_keys as keys
from .table_entities import MAX_ENTITY, MAX_PROPERTY

__all__ = [
    "DUE_COPY",
    "OWNER_COPY",
    "RECORD",
    "SCHEDULES_PARTITION",
    "ReadVersion",
    "ScheduleRows",
    "decode_marker",
    "decode_schedule",
    "due_range",
    "encode_marker",
    "id_of",
    "listing_range",
    "marker_key",
    "marker_partition",
    "name_digest",
    "name_holder",
    "owner_digest",
    "owner_prefix",
    "read_version",
    "record_key",
    "rows_of",
    "stored_keys",
    "version_of",
]

SCHEDULES_PARTITION: Final = "schedule"
_MARKERS: Final = "slots|"
RECORD: Final = "r:"
OWNER_COPY: Final = "o:"
DUE_COPY: Final = "d:"
_KINDS: Final = {"r": RECORD, "o": OWNER_COPY, "d": DUE_COPY}
_MARK: Final = "~"
#: The longest escaped owner kept as it is in a key (UTF-16 code units): the rest of an
#: owner copy's key is 33 more, and a key holds 512.
_OWNER_UNITS: Final = 400
_HEX16: Final = re.compile(r"^[0-9a-f]{16}$")
_HEX32: Final = re.compile(r"^[0-9a-f]{32}$")
_DUE_KEY: Final = re.compile(r"^d\|([0-9a-f]{16})\|([0-9a-f]{29})$")
_COMPLEMENT: Final = str.maketrans("0123456789abcdef", "fedcba9876543210")
_AFTER_HEX: Final = "g"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_LAST: Final = 16**16 - 1


def _complement(hex_digits: str) -> str:
    return hex_digits.translate(_COMPLEMENT)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def owner_digest(owner: str) -> str:
    return hashlib.blake2b(owner.encode("utf-8"), digest_size=8).hexdigest()


def name_digest(owner: str, name: str) -> str:
    """The digest of an owner's name (owners hold no NUL: the pair is unambiguous)."""
    return hashlib.blake2b(f"{owner}\0{name}".encode(), digest_size=16).hexdigest()


def record_key(schedule_id: str) -> str:
    return "r|" + _complement(schedule_id)


def owner_prefix(owner: str) -> str:
    """The prefix of the owner copies of ``owner``'s schedules."""
    token = keys.escape(owner)
    if _units(token) > _OWNER_UNITS:
        token = "|" + hashlib.sha256(owner.encode("utf-8")).hexdigest()
    return f"o|{token}|"


def listing_range(prefix: str, after: str | None) -> tuple[str, str]:
    """Row keys strictly between these are the copies under ``prefix`` (``r|``, or an
    owner's) of schedules older than ``after`` (all of them with ``None``)."""
    low = prefix if after is None else prefix + _complement(after)
    return low, prefix + _AFTER_HEX


def _due_key(schedule_id: str, moment: int) -> str:
    return f"d|{moment:016x}|{schedule_id}"


def due_range(now: datetime) -> tuple[str, str]:
    """Row keys strictly between these are the due copies due at or before ``now``."""
    return "d|", f"d|{due_micros(now):016x}|{_AFTER_HEX}"


def _name_key(digest: str) -> str:
    return "n|" + digest


def id_of(row_key: str) -> str:
    """The schedule id of a record, owner copy or due copy, from its key alone."""
    if row_key.startswith("d|"):
        return row_key.rsplit("|", 1)[-1]
    return _complement(row_key.rsplit("|", 1)[-1])


def marker_partition(schedule_id: str) -> str:
    if not is_schedule_id(schedule_id):
        raise InvalidKey(f"{schedule_id!r:.80} is not a schedule id")
    return _MARKERS + schedule_id


def marker_key(slot: datetime) -> str:
    """The row key of ``slot``'s marker (a slot since 1970): later slots sort first."""
    return f"{_LAST - (slot - _EPOCH) // _MICROSECOND:016x}"


@dataclass(frozen=True, slots=True)
class ScheduleRows:
    """Every row of one schedule as a write leaves it."""

    record: dict[str, Any]
    owner_copy: dict[str, Any]
    #: The due copy (``None``: not due-able).
    due_copy: dict[str, Any] | None
    name: dict[str, Any]


def rows_of(schedule: Schedule) -> ScheduleRows:
    """The rows of ``schedule``; ``PayloadTooLarge`` for what a row cannot hold (the
    model's bounds keep every schedule far below)."""
    due = schedule.due_at
    due_key = None if due is None else _due_key(schedule.id, due_micros(due))
    name_key = _name_key(name_digest(schedule.owner, schedule.name))
    properties: dict[str, Any] = {
        "Owner": schedule.owner,
        "Name": schedule.name,
        "Due": due_key,
        "NameKey": name_key,
        "Doc": schedule.model_dump_json(exclude={"version", "request"}),
        "Request": None if schedule.request is None else to_json(schedule.request).decode(),
    }
    properties = {k: v for k, v in properties.items() if v is not None}
    _check_sizes(properties)
    owner_key = owner_prefix(schedule.owner) + _complement(schedule.id)
    record = {"PartitionKey": SCHEDULES_PARTITION, "RowKey": record_key(schedule.id)}
    return ScheduleRows(
        record={**record, **properties},
        owner_copy={**record, "RowKey": owner_key, **properties},
        due_copy=None if due_key is None else {**record, "RowKey": due_key, **properties},
        name={
            "PartitionKey": SCHEDULES_PARTITION,
            "RowKey": name_key,
            "ScheduleId": schedule.id,
            "Owner": schedule.owner,
            "Name": schedule.name,
        },
    )


def _check_sizes(properties: Mapping[str, Any]) -> None:
    total = 0
    for name, value in properties.items():
        size = 2 * _units(value) if isinstance(value, str) else 8
        if size > MAX_PROPERTY:
            raise PayloadTooLarge(f"table property {name} of a schedule", size, MAX_PROPERTY)
        total += size + 2 * len(name) + 8
    if total > MAX_ENTITY // 2:
        raise PayloadTooLarge("schedule record", total, MAX_ENTITY // 2)


def decode_schedule(row: Mapping[str, Any], etag: str) -> Schedule:
    """The schedule a copy holds, with the version of that copy (whose ETag is ``etag``);
    ``CorruptScheduleRecord`` if it cannot be read."""
    row_key = str(row["RowKey"])
    schedule_id = id_of(row_key)
    doc, request = row.get("Doc"), row.get("Request")
    if not isinstance(doc, str) or not doc.endswith("}"):
        raise CorruptScheduleRecord(schedule_id, "its Doc property is missing or not an object")
    if request is not None and not isinstance(request, str):
        raise CorruptScheduleRecord(schedule_id, "its Request property is not text")
    whole = doc if request is None else f'{doc[:-1]},"request":{request}}}'
    schedule = schedule_from_json(schedule_id, whole, "")
    return schedule.model_copy(update={"version": version_of(row_key, etag, schedule)})


def version_of(row_key: str, etag: str, schedule: Schedule) -> str:
    """The version of the copy ``row_key`` of ``schedule`` whose ETag is ``etag``."""
    kind = _KINDS[row_key[0]]
    due = schedule.due_at
    moment = "" if due is None else f"{due_micros(due):016x}"
    digests = (owner_digest(schedule.owner), name_digest(schedule.owner, schedule.name))
    return _MARK.join((kind + etag, moment, *digests))


@dataclass(frozen=True, slots=True)
class ReadVersion:
    """What a version says: the copy read (its kind and ETag) and its index rows then."""

    kind: str
    etag: str
    #: The key of its due copy then, if it had one.
    due_key: str | None
    owner_digest: str
    name_key: str


def read_version(schedule: Schedule) -> ReadVersion:
    """The parts of ``schedule.version``; ``ConcurrencyConflict`` if this store made no
    such version."""
    version = schedule.version or ""
    kind, body = version[:2], version[2:]
    parts = body.rsplit(_MARK, 3)
    if kind not in _KINDS.values() or len(parts) != 4:
        raise ConcurrencyConflict(schedule.id, kind="schedule")
    etag, moment, owner, name = parts
    if not (
        etag
        and (moment == "" or _HEX16.match(moment))
        and _HEX16.match(owner)
        and _HEX32.match(name)
    ) or (kind == DUE_COPY and not moment):
        raise ConcurrencyConflict(schedule.id, kind="schedule")
    due_key = _due_key(schedule.id, int(moment, 16)) if moment else None
    return ReadVersion(kind, etag, due_key, owner, _name_key(name))


def stored_keys(row: Mapping[str, Any]) -> list[str]:
    """The keys of every row of the schedule whose record (or copy) is ``row``, from its
    key and its ``Owner``, ``Due`` and ``NameKey`` properties (not its ``Doc``)."""
    schedule_id = id_of(str(row["RowKey"]))
    found = [record_key(schedule_id)]
    owner = row.get("Owner")
    if isinstance(owner, str) and owner:
        found.append(owner_prefix(owner) + _complement(schedule_id))
    due = row.get("Due")
    match = _DUE_KEY.match(due) if isinstance(due, str) else None
    if match is not None and match.group(2) == schedule_id:
        found.append(str(due))
    name_key = row.get("NameKey")
    if isinstance(name_key, str) and name_key.startswith("n|") and _HEX32.match(name_key[2:]):
        found.append(name_key)
    return found


def encode_marker(marker: SlotMarker) -> dict[str, Any]:
    return {
        "PartitionKey": marker_partition(marker.schedule_id),
        "RowKey": marker_key(marker.slot),
        "JobId": marker.job_id,
        "FiredAt": marker.fired_at,
        "Marker": marker.model_dump_json(),
    }


def decode_marker(row: Mapping[str, Any]) -> SlotMarker:
    schedule_id = str(row["PartitionKey"]).removeprefix(_MARKERS)
    return marker_from_json(schedule_id, row.get("Marker"))


def name_holder(row: Mapping[str, Any]) -> str | None:
    """The schedule id a name's reservation names, if it reads."""
    holder = row.get("ScheduleId")
    return holder if isinstance(holder, str) and is_schedule_id(holder) else None
