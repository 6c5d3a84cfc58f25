"""The rules of recurring schedules: when a schedule fires.

A rule is text, stored as it is written, in one of three kinds::

    cron:0 9 * * MON-FRI                      a cron expression (5 fields), local wall time
    every:PT20M  every:P1D@2026-01-01T08:00   a fixed stretch of elapsed time, anchored
    rrule:FREQ=MONTHLY;BYMONTHDAY=1,15        RFC 5545 RRULE lines (united), local wall time

``parse_rule(text)`` reads one (``InvalidRule`` says what is wrong; ``RuleNeverFires`` when
it could never fire); ``rule.text`` is its canonical form, and ``parse_rule(rule.text)``
gives the same rule back. ``rule.next_after(instant, zone)`` and ``rule.slots(start, end,
zone)`` say when it fires in a time zone; ``preview`` lists the next few slots for people.

Wall-time rules (``cron:``, ``rrule:``) follow one DST rule: a wall time the clocks skip
runs at the first instant after the gap; a wall time that happens twice runs once, at its
first occurrence. ``every:`` counts elapsed time and is not moved by DST.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ..errors import InvalidInput, InvalidRule, UnknownTimeZone
from ._cron import CronRule
from ._interval import IntervalRule
from ._rrule import RecurrenceRule
from ._rule import LOOKAHEAD, Rule, check_zone, quote, utc_instant

__all__ = [
    "LOOKAHEAD",
    "MAX_PREVIEW",
    "MAX_RULE_LENGTH",
    "CronRule",
    "IntervalRule",
    "RecurrenceRule",
    "Rule",
    "parse_rule",
    "parse_zone",
    "preview",
]

#: The longest rule text accepted, in characters.
MAX_RULE_LENGTH = 2_000
#: The most slots one ``preview`` lists.
MAX_PREVIEW = 1_000

_KINDS: dict[str, type[CronRule] | type[IntervalRule] | type[RecurrenceRule]] = {
    "cron": CronRule,
    "every": IntervalRule,
    "rrule": RecurrenceRule,
}
_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+){0,3}")
#: Names zoneinfo may find that are not IANA zones: they depend on the machine.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


def parse_rule(text: str) -> Rule:
    """Read a rule from its text form (``cron:...``, ``every:...`` or ``rrule:...``).

    Raises ``InvalidRule`` (an ``InvalidInput``) naming what is wrong, and its subclass
    ``RuleNeverFires`` for a well-formed rule that has no slot at all."""
    if not isinstance(text, str):
        raise InvalidRule(
            f"a rule is text such as 'cron:0 9 * * MON-FRI', not {type(text).__name__}"
        )
    if len(text) > MAX_RULE_LENGTH:
        raise InvalidRule(
            f"the rule text is {len(text):,} characters; at most {MAX_RULE_LENGTH:,} are accepted"
        )
    return _parse(text)


@functools.lru_cache(maxsize=1_024)
def _parse(text: str) -> Rule:
    for position, char in enumerate(text):
        if not (" " <= char <= "~" or char in "\n\r\t"):
            raise InvalidRule(
                f"the rule text has {char!r} at position {position}; rules are plain ASCII text"
            )
    stripped = text.strip()
    kind, colon, body = stripped.partition(":")
    rule_class = _KINDS.get(kind.strip().lower()) if colon else None
    if rule_class is None:
        raise InvalidRule(
            f"the rule {quote(stripped)} does not start with a kind: write cron:<expression>, "
            "every:<ISO 8601 duration> or rrule:<RRULE>, e.g. cron:0 9 * * MON-FRI"
        )
    if rule_class is not RecurrenceRule and ("\n" in body or "\r" in body):
        raise InvalidRule(f"a {kind.strip().lower()}: rule is one line; only rrule: takes several")
    return rule_class.parse(body)


def parse_zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Berlin``), or ``UnknownTimeZone`` naming it.
    Zones come from the system's database or, without one, from the ``tzdata`` package."""
    if not isinstance(name, str) or not _ZONE_NAME.fullmatch(name) or len(name) > 64:
        raise UnknownTimeZone(name if isinstance(name, str) else repr(name))
    if name in _NOT_ZONES or name not in _known_zones():
        raise UnknownTimeZone(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownTimeZone(name) from None


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def preview(
    rule: Rule | str, zone: ZoneInfo | str, after: datetime, count: int = 10
) -> list[datetime]:
    """The next ``count`` slots of ``rule`` strictly after ``after`` (aware), for showing a
    schedule's future to people: aware datetimes in the schedule's zone (so they print as
    local times with their offset). Fewer when the rule ends sooner."""
    read = parse_rule(rule) if isinstance(rule, str) else rule
    if not isinstance(read, Rule):
        raise InvalidRule(f"rule must be a Rule or its text, not {type(rule).__name__}")
    local = parse_zone(zone) if isinstance(zone, str) else check_zone(zone)
    instant = utc_instant(after, "after")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PREVIEW:
        raise InvalidInput(f"count must be a whole number from 1 to {MAX_PREVIEW:,}")
    found: list[datetime] = []
    while len(found) < count:
        slot = read.next_after(instant, local)
        if slot is None:
            break
        found.append(slot.astimezone(local))
        instant = slot
    return found
