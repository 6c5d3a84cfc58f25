"""Rule texts that are wrong, hostile or impossible are refused fast with a clear message,
and no rule, however sparse, makes a search run for long."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queued_jobs.errors import InvalidInput, InvalidRule, RuleNeverFires
from queued_jobs.schedules import LOOKAHEAD, parse_rule, parse_zone

UTC_ZONE = parse_zone("UTC")
NOW = datetime(2026, 6, 1, tzinfo=UTC)
#: Far more than any of these takes (a few milliseconds; the slowest about 50, but for
#: the thousand years of slots below), for a shared machine.
FAST = 1.0


@contextmanager
def quickly(limit: float = FAST) -> Iterator[None]:
    started = time.perf_counter()
    yield
    assert time.perf_counter() - started < limit


REFUSED = [
    # kinds and text
    ("", "does not start with a kind"),
    ("0 9 * * *", "does not start with a kind"),
    ("cronjob:0 9 * * *", "does not start with a kind"),
    ("cron:0 9 * * *\x00", "'\\x00' at position 14"),
    ("cron:0 9 * * *\u2028", "plain ASCII"),
    ("cron:\u0660 9 * * *", "plain ASCII"),  # an Arabic-Indic zero
    ("cron:0 9 * * *\ncron:0 10 * * *", "one line"),
    ("x" * 2_001, "2,001 characters; at most 2,000"),
    ("rrule:" + "FREQ=DAILY;" * 1_000, "characters; at most 2,000"),
    # cron
    ("cron:", "empty"),
    ("cron:* * * * * *", "seconds field"),
    ("cron:0 0 9 * * * 2026", "7 fields"),
    ("cron:0 9 * *", "4 fields"),
    ("cron:0 9 ? * MON", "Quartz"),
    ("cron:H 9 * * *", "Jenkins"),
    ("cron:60 9 * * *", "minute field '60'"),
    ("cron:0 24 * * *", "hour field '24'"),
    ("cron:0 9 0 * *", "day-of-month field '0'"),
    ("cron:0 9 * 13 *", "month field '13'"),
    ("cron:0 9 * * 8", "day-of-week field '8'"),
    ("cron:0 9 * * FRI-MON", "day-of-week field 'FRI-MON'"),
    ("cron:*/0 9 * * *", "minute field '*/0'"),
    ("cron:0 9 * * *; rm -rf /", "8 fields"),
    ("cron:0 9 * * MONDAY", "names it takes are SUN, MON"),
    ("cron:0 9 * JANUARY *", "'JANUARY'"),
    ("cron:0 9 * * 1W", "'W'"),
    ("cron:$(reboot) 9 * * *", "has '$'"),
    ("cron:@reboot", "@reboot is not a schedule"),
    ("cron:@sometimes", "unknown macro"),
    # every
    ("every:", "missing"),
    ("every:PT0M", "is zero"),
    ("every:P0D", "is zero"),
    ("every:-PT5M", "negative"),
    ("every:PT30S", "under 1 minute"),
    ("every:PT90S", "whole number of minutes"),
    ("every:P367D", "over 366 days"),
    ("every:P53W", "over 366 days"),
    ("every:P1M", "no fixed length"),
    ("every:P1Y", "no fixed length"),
    ("every:PT1.5H", "fraction"),
    ("every:20m", "cannot read"),
    ("every:PT", "cannot read"),
    ("every:PT20M@tomorrow", "anchor 'tomorrow'"),
    ("every:PT20M@2026-02-30T08:00", "not a real time"),
    ("every:PT20M@2026-01-01T08:00Z", "cannot read the anchor"),
    ("every:PT20M@0001-01-01T00:00", "1900 to 2999"),
    # rrule: form
    ("rrule:", "empty"),
    ("rrule:BYHOUR=9", "FREQ is missing"),
    ("rrule:FREQ=FORTNIGHTLY", "FREQ='FORTNIGHTLY' is unknown"),
    ("rrule:FREQ=SECONDLY", "SECONDLY is not supported"),
    ("rrule:FREQ=DAILY;BYSECOND=30", "only BYSECOND=0"),
    ("rrule:FREQ=DAILY;;BYHOUR=9", "empty part"),
    ("rrule:FREQ=DAILY;BYHOUR", "not NAME=VALUE"),
    ("rrule:FREQ=DAILY;FREQ=WEEKLY", "FREQ is given twice"),
    ("rrule:FREQ=DAILY;X-EVIL=1", "unknown part 'X-EVIL'"),
    ("rrule:FREQ=YEARLY;BYEASTER=0", "BYEASTER is not supported"),
    ("rrule:FREQ=DAILY;BYHOUR=24", "24 is not from 0 to 23"),
    ("rrule:FREQ=DAILY;BYHOUR=-1", "-1 is not from 0 to 23"),
    ("rrule:FREQ=MONTHLY;BYMONTHDAY=0", "0 is not from 1 to 31 or from -31 to -1"),
    ("rrule:FREQ=MONTHLY;BYMONTHDAY=1e3", "not a whole number"),
    ("rrule:FREQ=DAILY;INTERVAL=0", "positive"),
    ("rrule:FREQ=DAILY;INTERVAL=99999999", "not from 1 to 3,653"),
    ("rrule:FREQ=WEEKLY;BYDAY=XX", "not a weekday"),
    ("rrule:FREQ=WEEKLY;BYDAY=1MO", "numbered BYDAY"),
    ("rrule:FREQ=MONTHLY;BYDAY=6MO", "1 to 5"),
    ("rrule:FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY does not go with FREQ=WEEKLY"),
    ("rrule:FREQ=DAILY;BYWEEKNO=1", "BYWEEKNO goes only with FREQ=YEARLY"),
    ("rrule:FREQ=MONTHLY;BYYEARDAY=1", "BYYEARDAY does not go with FREQ=MONTHLY"),
    ("rrule:FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs another BY part"),
    ("rrule:FREQ=WEEKLY", "FREQ=WEEKLY needs BYDAY"),
    ("rrule:FREQ=DAILY;COUNT=5", "COUNT needs a DTSTART"),
    ("rrule:DTSTART:20260101T000000\nRRULE:FREQ=DAILY;COUNT=5;UNTIL=20270101", "together"),
    ("rrule:DTSTART:20260101T000000\nRRULE:FREQ=DAILY;COUNT=100000", "not from 1 to 10,000"),
    ("rrule:FREQ=DAILY;UNTIL=20260101T000000Z", "is in UTC"),
    ("rrule:DTSTART;TZID=Europe/Berlin:20260101T090000\nRRULE:FREQ=DAILY", "parameters"),
    ("rrule:DTSTART:20260101T090030\nRRULE:FREQ=DAILY", "DTSTART has seconds"),
    ("rrule:DTSTART:20261301T090000\nRRULE:FREQ=DAILY", "not a real time"),
    ("rrule:DTSTART:99990101T000000\nRRULE:FREQ=DAILY", "1900 to 2999"),
    ("rrule:DTSTART:20260101\nDTSTART:20270101\nRRULE:FREQ=DAILY", "DTSTART is given twice"),
    ("rrule:DTSTART:20260101T000000", "no RRULE line"),
    ("rrule:RRULE:FREQ=DAILY\nEXRULE:FREQ=WEEKLY;BYDAY=SA", "EXRULE is not supported"),
    ("rrule:RRULE:FREQ=DAILY\nEXDATE:20260101", "EXDATE is not supported"),
    ("rrule:RRULE:FREQ=DAILY\nRDATE:20260101", "RDATE is not supported"),
    ("rrule:RRULE:FREQ=DAILY\nX-WR-TIMEZONE:Europe/Berlin", "unknown line"),
    ("rrule:RRULE:FREQ=DAILY\nFREQ=WEEKLY;BYDAY=MO", "has no name"),
    ("rrule:" + "\n".join(["RRULE:FREQ=DAILY"] * 11), "at most 10"),
    ("rrule:FREQ=DAILY;BYHOUR=9' OR '1'='1", "not a whole number"),
    ("rrule:FREQ=DAILY;BYHOUR=<script>", "not a whole number"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_a_bad_rule_text_is_refused_fast_with_a_clear_message(text: str, message: str) -> None:
    with quickly(), pytest.raises(InvalidRule) as refused:
        parse_rule(text)
    assert message in str(refused.value)
    assert len(str(refused.value)) < 400  # a huge text is not echoed back
    assert isinstance(refused.value, InvalidInput)
    assert isinstance(refused.value, ValueError)


NEVER = [
    "cron:0 0 30 2 *",
    "cron:0 0 31 4,6,9,11 *",
    "cron:0 0 31 FEB *",
    "rrule:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "rrule:FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31",
    "rrule:FREQ=WEEKLY;BYMONTH=2;BYDAY=MO;BYSETPOS=2,3,4,5,6",
    "rrule:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30,31",
    "rrule:FREQ=DAILY;BYMONTH=4,6,9,11;BYMONTHDAY=31",
    "rrule:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30",
    "rrule:FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=-30",
    "rrule:FREQ=MINUTELY;INTERVAL=20;BYHOUR=8,9,10;BYMONTHDAY=31;BYMONTH=2",
    "rrule:FREQ=HOURLY;BYMINUTE=0;BYSETPOS=2",
    "rrule:FREQ=MINUTELY;BYSETPOS=-2;BYHOUR=1",
    "rrule:FREQ=DAILY;BYHOUR=9;BYSETPOS=2",
    "rrule:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
    "rrule:FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1",
    "rrule:FREQ=HOURLY;INTERVAL=6;BYHOUR=3",
    "rrule:FREQ=MINUTELY;INTERVAL=1440;BYHOUR=5",
    "rrule:DTSTART:20260106T090000\nRRULE:FREQ=DAILY;INTERVAL=7;BYDAY=MO",  # all Tuesdays
    "rrule:DTSTART:20250101T000000\nRRULE:FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29",
    "rrule:DTSTART:20260601T000000\nRRULE:FREQ=DAILY;UNTIL=20260101",
    "rrule:DTSTART:20260601T000000\nRRULE:FREQ=YEARLY;BYMONTH=5;UNTIL=20270401",
    "rrule:RRULE:FREQ=DAILY\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
]


@pytest.mark.parametrize("text", NEVER)
def test_a_rule_that_can_never_fire_is_refused_fast(text: str) -> None:
    with quickly(), pytest.raises(RuleNeverFires, match="never fires"):
        parse_rule(text)


def test_a_line_of_a_set_that_never_fires_is_named() -> None:
    with pytest.raises(RuleNeverFires, match="rrule line 2"):
        parse_rule("rrule:RRULE:FREQ=DAILY\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")


SPARSE = [
    ("cron:0 0 * 2 MON#5", datetime(2044, 2, 29, tzinfo=UTC)),  # a fifth Monday of February
    ("cron:0 0 29 2 *", datetime(2028, 2, 29, tzinfo=UTC)),
    ("rrule:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", datetime(2044, 2, 29, tzinfo=UTC)),
    ("rrule:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", datetime(2044, 2, 29, tzinfo=UTC)),
    ("rrule:FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO", datetime(2044, 2, 29, tzinfo=UTC)),
    ("rrule:FREQ=MONTHLY;BYMONTHDAY=31", datetime(2026, 7, 31, tzinfo=UTC)),
    ("rrule:FREQ=YEARLY;BYWEEKNO=53;BYDAY=MO", datetime(2026, 12, 28, tzinfo=UTC)),
    ("rrule:FREQ=YEARLY;BYYEARDAY=366", datetime(2028, 12, 31, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "first"), SPARSE)
def test_a_sparse_rule_finds_its_next_slot_fast(text: str, first: datetime) -> None:
    with quickly():
        assert parse_rule(text).next_after(NOW, UTC_ZONE) == first


def test_a_rule_that_has_ended_answers_none_fast() -> None:
    rule = parse_rule("rrule:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;UNTIL=20280301")
    with quickly():
        assert rule.next_after(datetime(2029, 1, 1, tzinfo=UTC), UTC_ZONE) is None


def test_a_rule_whose_slots_thin_out_still_answers_fast() -> None:
    # Every other day, on February 29th when it is a Monday: a slot every few decades at most.
    rule = parse_rule("rrule:FREQ=DAILY;INTERVAL=2;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO")
    # about 0.3 s on a quiet machine (a thousand years of slots), 1 s on a busy one: a walk
    # day by day through them would take minutes
    with quickly(10 * FAST):
        rule.next_after(datetime(2026, 1, 1, tzinfo=UTC), UTC_ZONE)
        rule.slots(datetime(2026, 1, 1, tzinfo=UTC), datetime(2999, 1, 1, tzinfo=UTC), UTC_ZONE)


def test_a_next_slot_further_than_the_lookahead_is_not_looked_for() -> None:
    rule = parse_rule("rrule:DTSTART:20900101T000000\nRRULE:FREQ=DAILY")
    assert LOOKAHEAD.days // 365 == 50
    assert rule.next_after(datetime(2026, 1, 1, tzinfo=UTC), UTC_ZONE) is None
    assert rule.next_after(datetime(2050, 1, 1, tzinfo=UTC), UTC_ZONE) == datetime(
        2090, 1, 1, tzinfo=UTC
    )


def test_a_minutely_rule_from_long_ago_does_not_walk_from_its_start() -> None:
    rule = parse_rule("rrule:DTSTART:19000101T000000\nRRULE:FREQ=MINUTELY;INTERVAL=7")
    with quickly(0.1):
        slot = rule.next_after(NOW, UTC_ZONE)
    assert slot is not None
    assert (slot - datetime(1900, 1, 1, tzinfo=UTC)).total_seconds() % (7 * 60) == 0
    assert NOW < slot <= NOW.replace(minute=7)


def test_instants_outside_the_years_handled_are_refused() -> None:
    rule = parse_rule("cron:0 9 * * *")
    with pytest.raises(InvalidInput, match="1900 to 2999"):
        rule.next_after(datetime(3000, 1, 1, tzinfo=UTC), UTC_ZONE)
    with pytest.raises(InvalidInput, match="limit"):
        rule.slots(NOW, NOW.replace(year=2027), UTC_ZONE, limit=0)
    assert rule.next_after(datetime(2999, 12, 31, 12, tzinfo=UTC), UTC_ZONE) is None


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(
    st.sampled_from(["cron:", "every:", "rrule:", "rrule:RRULE:", "rrule:DTSTART:", ""]),
    st.text(
        alphabet=st.sampled_from("0123456789*/,-#LW@PTMHDSYZ:;=\n FREQ=BYDAYMONTHLY"), max_size=60
    )
    | st.text(max_size=30),
)
def test_any_text_is_read_or_refused_with_invalid_rule(prefix: str, rest: str) -> None:
    text = prefix + rest
    with quickly():
        try:
            rule = parse_rule(text)
        except InvalidRule:
            return
        assert parse_rule(rule.text) == rule
        rule.next_after(NOW, UTC_ZONE)
