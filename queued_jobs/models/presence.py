"""A host that runs jobs (or serves the API), as it last said it was: :class:`Presence`.

Each standalone worker, Azure Functions instance and API server saves one row under its
identity (``host:pid``, the name its leases and attempts carry), again every so often, so
that an operator sees which hosts are alive. The values are checked here, so that every
store can key and hold them: a row stays a few KiB, far below Table Storage's limits.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from ..errors import InvalidInput

__all__ = [
    "MAX_DETAILS",
    "MAX_DETAIL_TEXT",
    "MAX_HOST_LENGTH",
    "DetailValue",
    "Presence",
    "PresenceKind",
    "check_host",
]

#: The longest host identity (characters).
MAX_HOST_LENGTH: Final = 256
#: Most entries of :attr:`Presence.details`.
MAX_DETAILS: Final = 32
#: The longest text value of a detail (characters).
MAX_DETAIL_TEXT: Final = 256
_MAX_VERSION: Final = 64
#: Integers a detail may hold: those every JSON reader reads exactly.
_MAX_INT: Final = 2**53
_DETAIL_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

DetailValue = str | int | float | bool


class PresenceKind(StrEnum):
    """What kind of host a presence is of."""

    #: A standalone worker (``queued-jobs worker``).
    WORKER = "worker"
    #: An Azure Functions instance running the blueprint's triggers.
    FUNCTIONS = "functions"
    #: A web API server (``queued-jobs serve``).
    API = "api"


def _printable(text: object, what: str, limit: int) -> str:
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        raise InvalidInput(f"{what} is text of 1 to {limit} characters")
    if not text.isprintable():  # control characters, lone surrogates, line breaks
        raise InvalidInput(
            f"{what} {text!r:.80} holds a character that is not printable (a control "
            "character, a line break or a lone surrogate)"
        )
    return text


def check_host(host: object) -> str:
    """``host`` if it can name a presence: printable text of 1 to
    :data:`MAX_HOST_LENGTH` characters; else ``InvalidInput``."""
    return _printable(host, "a host identity", MAX_HOST_LENGTH)


def _utc(moment: object, what: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise InvalidInput(f"{what} is a timezone-aware datetime")
    return moment.astimezone(UTC)


def _detail(name: object, value: object) -> DetailValue:
    if not isinstance(name, str) or not _DETAIL_NAME.match(name):
        raise InvalidInput(
            f"detail name {name!r:.80} is not valid: up to 64 lowercase letters, digits and "
            "underscores, starting with a letter"
        )
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_INT:
            raise InvalidInput(f"detail {name} is an integer beyond ±2**53")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"detail {name} is not a finite number")
        return value
    if isinstance(value, str):
        if len(value) > MAX_DETAIL_TEXT or not value.isprintable():
            raise InvalidInput(
                f"detail {name} is printable text of at most {MAX_DETAIL_TEXT} characters"
            )
        return value
    raise InvalidInput(f"detail {name} is text, a number or a boolean, not {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Presence:
    """One host as it last said it was. ``InvalidInput`` for a value a store could not
    key or hold."""

    #: The host's identity, ``host:pid`` by default (as its leases and attempts name it).
    host: str
    kind: PresenceKind
    #: When the host started (UTC).
    started_at: datetime
    #: When the host saved this (UTC).
    seen_at: datetime
    #: The queued-jobs version it runs.
    version: str
    #: A few facts of the host's own (queues served, concurrency, jobs running...), kept
    #: as a read-only mapping.
    details: Mapping[str, DetailValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_host(self.host)
        try:
            kind = PresenceKind(self.kind)
        except ValueError:
            kinds = ", ".join(k.value for k in PresenceKind)
            raise InvalidInput(
                f"a presence's kind is one of {kinds}, not {self.kind!r:.40}"
            ) from None
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "started_at", _utc(self.started_at, "started_at"))
        object.__setattr__(self, "seen_at", _utc(self.seen_at, "seen_at"))
        _printable(self.version, "a version", _MAX_VERSION)
        if not isinstance(self.details, Mapping) or len(self.details) > MAX_DETAILS:
            raise InvalidInput(f"a presence has at most {MAX_DETAILS} details")
        details = {name: _detail(name, value) for name, value in self.details.items()}
        object.__setattr__(self, "details", MappingProxyType(details))

    def to_json(self) -> str:
        """The document stores keep (compact JSON)."""
        return json.dumps(
            {
                "host": self.host,
                "kind": self.kind.value,
                "started_at": self.started_at.isoformat(),
                "seen_at": self.seen_at.isoformat(),
                "version": self.version,
                "details": dict(self.details),
            },
            ensure_ascii=False,
            separators=(",", ":"),
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, doc: object) -> Presence | None:
        """The presence a stored document holds, or ``None`` if it holds none (damaged,
        written by something else)."""
        try:
            fields: Any = json.loads(doc) if isinstance(doc, str) else None
            return cls(
                host=fields["host"],
                kind=fields["kind"],
                started_at=datetime.fromisoformat(fields["started_at"]),
                seen_at=datetime.fromisoformat(fields["seen_at"]),
                version=fields["version"],
                details=fields["details"],
            )
        except (ValueError, TypeError, KeyError):  # InvalidInput is a ValueError
            return None
