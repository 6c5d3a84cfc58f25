"""What every rule kind shares: the ``Rule`` base, argument checks, the look-ahead bound."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from ..errors import InvalidInput, InvalidRule
from ._dst import first_instants

__all__ = [
    "EARLIEST",
    "LATEST",
    "LOOKAHEAD",
    "MAX_SLOTS",
    "Rule",
    "WallClockRule",
    "check_zone",
    "quote",
    "utc_instant",
]

#: How far ahead a next slot is looked for: a rule with no slot in the 50 years after an
#: instant has no next slot after it. Every search is bounded by this, so no rule can make
#: one run for long.
LOOKAHEAD = timedelta(days=18_262)  # 50 years of 365.2425 days

#: The most slots one call of ``Rule.slots`` returns.
MAX_SLOTS = 100_000

#: Instants and wall times handled: from 1900 through 2999.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC) - timedelta(microseconds=1)

_QUOTE_LIMIT = 60
#: Wall times differ from UTC by less than a day in every zone, so a stretch of wall time one
#: day wider than a stretch of instants covers it.
_DAY = timedelta(days=1)


def quote(text: str) -> str:
    """``text`` quoted for an error message, cut short when long."""
    if len(text) > _QUOTE_LIMIT:
        return repr(text[:_QUOTE_LIMIT]) + f" (and {len(text) - _QUOTE_LIMIT:,} more characters)"
    return repr(text)


def utc_instant(value: object, what: str) -> datetime:
    """``value`` as an aware UTC datetime, or ``InvalidInput`` saying why it cannot be."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{what} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{what} {value.isoformat()} has no time zone: pass an aware datetime "
            "(datetime.now(UTC), or one with tzinfo=UTC)"
        )
    instant = value.astimezone(UTC)
    if not EARLIEST <= instant <= LATEST:
        raise InvalidInput(f"{what} {instant.isoformat()} is outside the years 1900 to 2999")
    return instant


def check_zone(zone: object) -> ZoneInfo:
    if not isinstance(zone, ZoneInfo):
        raise InvalidInput(
            f"zone must be a zoneinfo.ZoneInfo, not {type(zone).__name__} "
            "(parse_zone('Europe/Berlin') gives one)"
        )
    return zone


class Rule(ABC):
    """When a recurring schedule fires: the *slots* of a rule, in a schedule's time zone.

    Made by ``parse_rule(text)``; immutable; two rules are equal when their canonical
    ``text`` is. A pydantic field typed ``Rule`` reads the text form and writes it back.
    """

    __slots__ = ("_text",)

    #: The prefix of the text form: ``cron``, ``every`` or ``rrule``.
    kind: ClassVar[str]

    def __init__(self, text: str) -> None:
        self._text = text

    @property
    def text(self) -> str:
        """The canonical text form, ``kind:body``: ``parse_rule(rule.text) == rule``."""
        return self._text

    def next_after(self, instant: datetime, zone: ZoneInfo) -> datetime | None:
        """The first slot strictly after ``instant`` (aware), as an aware UTC datetime; or
        ``None`` when the rule has ended or has no slot within ``LOOKAHEAD`` of it."""
        after = utc_instant(instant, "instant")
        check_zone(zone)
        until = min(after + LOOKAHEAD, LATEST)
        return next(self._instants(after, until, zone), None)

    def slots(
        self, start: datetime, end: datetime, zone: ZoneInfo, limit: int = 1_000
    ) -> list[datetime]:
        """Every slot in ``(start, end]`` (aware datetimes), as aware UTC datetimes in order,
        at most ``limit`` of them (the first ones)."""
        after = utc_instant(start, "start")
        until = utc_instant(end, "end")
        check_zone(zone)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_SLOTS:
            raise InvalidInput(f"limit must be a whole number from 1 to {MAX_SLOTS:,}")
        if until <= after:
            return []
        return list(itertools.islice(self._instants(after, until, zone), limit))

    @abstractmethod
    def _instants(self, after: datetime, until: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        """The slots in ``(after, until]`` (aware UTC), ascending, each once."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rule):
            return NotImplemented
        return self._text == other._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __repr__(self) -> str:
        return f"parse_rule({self._text!r})"

    def __str__(self) -> str:
        return self._text

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate_rule,
            json_schema_input_schema=core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(
                _rule_text, when_used="always"
            ),
        )


def _rule_text(rule: Rule) -> str:
    return rule.text


def _validate_rule(value: object) -> Rule:
    if isinstance(value, Rule):
        return value
    if isinstance(value, str):
        from .rules import parse_rule

        return parse_rule(value)
    raise InvalidRule(f"a rule is text such as 'cron:0 9 * * MON-FRI', not {type(value).__name__}")


class WallClockRule(Rule):
    """A rule whose slots are local wall times (cron, RRULE), turned into instants by the
    one DST rule of ``_dst``."""

    __slots__ = ()

    @abstractmethod
    def _walls(self, after: datetime, stop: datetime) -> Iterator[datetime]:
        """The naive wall times of slots in ``(after, stop]``, ascending, each once."""

    def _instants(self, after: datetime, until: datetime, zone: ZoneInfo) -> Iterator[datetime]:
        # A wall time runs at the first instant the clocks show it or later. By ``after``
        # they have shown its own wall time, so every wall time up to that one has run by
        # then: only the later ones can run after it.
        wall = after.astimezone(zone).replace(tzinfo=None, fold=0)
        stop = until.astimezone(zone).replace(tzinfo=None, fold=0) + _DAY
        for instant in first_instants(self._walls(wall, stop), zone, after):
            if instant > until:
                return
            yield instant
