"""Recurring schedules: rules that say when a job fires (cron, intervals, RRULE), in a
schedule's IANA time zone; the schedule record and the slot markers that make each slot
fire once, and the store that keeps them."""

from .model import CatchUp, Overlap, Schedule, SlotMarker
from .rules import (
    LOOKAHEAD,
    MAX_RULE_LENGTH,
    CronRule,
    IntervalRule,
    RecurrenceRule,
    Rule,
    parse_rule,
    parse_zone,
    preview,
)
from .store import ScheduleStore

__all__ = [
    "LOOKAHEAD",
    "MAX_RULE_LENGTH",
    "CatchUp",
    "CronRule",
    "IntervalRule",
    "Overlap",
    "RecurrenceRule",
    "Rule",
    "Schedule",
    "ScheduleStore",
    "SlotMarker",
    "parse_rule",
    "parse_zone",
    "preview",
]
