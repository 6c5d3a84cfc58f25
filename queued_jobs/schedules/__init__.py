"""Recurring schedules: rules that say when a job fires (cron, intervals, RRULE), in a
schedule's IANA time zone."""

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

__all__ = [
    "LOOKAHEAD",
    "MAX_RULE_LENGTH",
    "CronRule",
    "IntervalRule",
    "RecurrenceRule",
    "Rule",
    "parse_rule",
    "parse_zone",
    "preview",
]
