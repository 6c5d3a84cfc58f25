"""What every store does alike with hosts' presences (``JobRepository.save_presence``,
``list_presences``, ``purge_presences``): the checks before a write or a listing, and the
order of a listing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from ..errors import InvalidInput
from ..models import Presence

__all__ = [
    "DEFAULT_PRESENCE_LIMIT",
    "MAX_PRESENCE_LIMIT",
    "check_presence",
    "check_presence_limit",
    "check_seen",
    "most_recent",
]

#: Presences a listing returns unless told otherwise, and at most.
DEFAULT_PRESENCE_LIMIT: Final = 200
MAX_PRESENCE_LIMIT: Final = 1000


def check_presence(presence: object) -> Presence:
    """``presence`` if it is one (its values are checked as it is made)."""
    if not isinstance(presence, Presence):
        raise InvalidInput(f"a presence is a Presence, not {type(presence).__name__}")
    return presence


def check_presence_limit(limit: int) -> None:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PRESENCE_LIMIT:
        raise InvalidInput(f"a presence listing's limit is 1 to {MAX_PRESENCE_LIMIT}, not {limit}")


def check_seen(moment: object, what: str) -> datetime:
    """``moment`` if it is a timezone-aware datetime (a listing's or a purge's bound)."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InvalidInput(f"{what} is a timezone-aware datetime")
    return moment


def most_recent(
    presences: Iterable[Presence], *, seen_since: datetime, limit: int
) -> list[Presence]:
    """The presences seen at or after ``seen_since``, most recently seen first (then by
    host), at most ``limit``."""
    by_host = sorted((p for p in presences if p.seen_at >= seen_since), key=_host)
    return sorted(by_host, key=_seen_at, reverse=True)[:limit]  # stable: hosts stay in order


def _host(presence: Presence) -> str:
    return presence.host


def _seen_at(presence: Presence) -> datetime:
    return presence.seen_at
