"""Hosts' presences in the jobs table: a row per host in the partition ``presence``, which
no job, unique key or secret shares (``table_keys`` draws the others).

The row key is the host's identity, escaped as owners are (``table_keys.escape``: the
characters keys cannot hold, ``/ \\ # ?``, and ``%``, ``|`` percent-encoded; the model
refuses control characters). A key is at most 1 KiB of UTF-16 (512 code units, as Azurite
checks too): an escaped identity longer than that (only names full of escaped characters
or beyond the Basic Multilingual Plane get there) is cut and followed by ``|`` and the
SHA-256 of the identity, a form no shorter key takes (their ``|`` is escaped).

``SeenAt`` is the moment the host saved it, which listings and purges filter on;
``Presence`` the presence as a JSON document. The partition holds one row per host seen
within a day (the sweep's full pass purges older ones), so a listing is one query of it.
"""

from __future__ import annotations

import hashlib
from contextlib import suppress
from datetime import datetime
from typing import Final

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from ..models import Presence
from ..repositories._presence import (
    check_presence,
    check_presence_limit,
    check_seen,
    most_recent,
)
from . import table_keys as keys
from .errors import translated
from .table_queries import query_rows
from .table_reservations import etag_of

__all__ = ["PRESENCE_PARTITION", "TablePresences", "presence_key"]

PRESENCE_PARTITION: Final = "presence"
#: The longest key, in UTF-16 code units.
_KEY_UNITS: Final = 512
_SEEN_SINCE: Final = "PartitionKey eq @pk and SeenAt ge @moment"
_SEEN_BEFORE: Final = "PartitionKey eq @pk and SeenAt lt @moment"


def presence_key(host: str) -> str:
    """The row key of ``host``'s presence."""
    key = keys.escape(host)
    if _units(key) <= _KEY_UNITS:
        return key
    digest = hashlib.sha256(host.encode("utf-8")).hexdigest()
    kept, room = [], _KEY_UNITS - len(digest) - 1
    for char in key:
        room -= _units(char)
        if room < 0:
            break
        kept.append(char)
    return f"{''.join(kept)}|{digest}"


def _units(text: str) -> int:
    """How many UTF-16 code units ``text`` takes (a key's measure)."""
    return len(text.encode("utf-16-le")) // 2


class TablePresences:
    """The presence verbs of ``AzureTableJobRepository``, on its table."""

    def __init__(self, table: TableClient) -> None:
        self._table = table

    async def save(self, presence: Presence) -> None:
        check_presence(presence)
        row = {
            "PartitionKey": PRESENCE_PARTITION,
            "RowKey": presence_key(presence.host),
            "SeenAt": presence.seen_at,
            "Presence": presence.to_json(),
        }
        with translated(f"saving the presence of host {presence.host!r:.80}"):
            await self._table.upsert_entity(row, mode=UpdateMode.REPLACE)

    async def list(self, *, seen_since: datetime, limit: int) -> list[Presence]:
        check_presence_limit(limit)
        parameters = {"pk": PRESENCE_PARTITION, "moment": check_seen(seen_since, "seen_since")}
        with translated("listing the hosts' presences"):
            rows = await query_rows(
                self._table, _SEEN_SINCE, parameters, limit=None, select=["Presence"]
            )
        found = (Presence.from_json(row.get("Presence")) for row in rows)
        # Azurite compares times to the millisecond: the exact bound is checked here.
        readable = (presence for presence in found if presence is not None)
        return most_recent(readable, seen_since=seen_since, limit=limit)

    async def purge(self, *, seen_before: datetime) -> int:
        parameters = {"pk": PRESENCE_PARTITION, "moment": check_seen(seen_before, "seen_before")}
        purged = 0
        with translated("purging the hosts' presences"):
            rows = await query_rows(
                self._table, _SEEN_BEFORE, parameters, limit=None, select=["RowKey"]
            )
            for row in rows:  # unless its host saved it again meanwhile
                with suppress(ResourceModifiedError, ResourceNotFoundError):
                    await self._table.delete_entity(
                        PRESENCE_PARTITION,
                        row["RowKey"],
                        etag=etag_of(row),
                        match_condition=MatchConditions.IfNotModified,
                    )
                    purged += 1
        return purged
