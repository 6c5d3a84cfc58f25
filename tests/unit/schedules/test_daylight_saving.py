"""The DST rule: a slot in a gap runs at the first instant after it; a wall time that happens
twice runs once, at its first occurrence; ``every:`` counts elapsed time and ignores DST."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from queued_jobs.errors import InvalidInput
from queued_jobs.schedules import parse_rule, parse_zone

BERLIN = parse_zone("Europe/Berlin")  # 2026: 02:00 -> 03:00 on March 29, 03:00 -> 02:00 on Oct 25
NEW_YORK = parse_zone("America/New_York")  # 2026: March 8 and November 1, at 02:00
LORD_HOWE = parse_zone("Australia/Lord_Howe")  # half an hour: 02:00 -> 02:30 on Oct 4 2026,
#                                                02:00 -> 01:30 on April 5 2026
KOLKATA = parse_zone("Asia/Kolkata")  # +05:30 all year


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def slots(rule: str, start: str, end: str, zone: ZoneInfo) -> list[str]:
    """The slots of ``rule`` between two UTC times, written in the zone's local time."""
    found = parse_rule(rule).slots(utc(start), utc(end), zone)
    return [slot.astimezone(zone).isoformat(timespec="minutes") for slot in found]


# --- a gap: clocks go forward -----------------------------------------------------------------


@pytest.mark.parametrize("rule", ["cron:30 2 * * *", "rrule:FREQ=DAILY;BYHOUR=2;BYMINUTE=30"])
def test_a_slot_in_the_berlin_gap_runs_when_the_clocks_jump(rule: str) -> None:
    assert slots(rule, "2026-03-27 12:00", "2026-03-30 12:00", BERLIN) == [
        "2026-03-28T02:30+01:00",
        "2026-03-29T03:00+02:00",  # 02:30 does not happen: 03:00 is the first instant after
        "2026-03-30T02:30+02:00",
    ]


def test_several_slots_in_one_gap_fire_once() -> None:
    assert slots("cron:*/20 2-3 * * *", "2026-03-28 23:00", "2026-03-29 03:00", BERLIN) == [
        "2026-03-29T03:00+02:00",  # 02:00, 02:20, 02:40 and 03:00 itself: once
        "2026-03-29T03:20+02:00",
        "2026-03-29T03:40+02:00",
    ]


def test_a_slot_in_the_new_york_gap_runs_at_three() -> None:
    assert slots("cron:15 2 * * *", "2026-03-07 12:00", "2026-03-09 12:00", NEW_YORK) == [
        "2026-03-08T03:00-04:00",
        "2026-03-09T02:15-04:00",
    ]


def test_a_slot_in_lord_howes_half_hour_gap_runs_at_half_past_two() -> None:
    assert slots("cron:15 2 * * *", "2026-10-02 12:00", "2026-10-05 12:00", LORD_HOWE) == [
        "2026-10-03T02:15+10:30",
        "2026-10-04T02:30+11:00",  # the clocks go from 02:00 to 02:30
        "2026-10-05T02:15+11:00",
    ]


def test_the_instant_of_a_gap_slot_is_the_jump_itself() -> None:
    rule = parse_rule("cron:30 2 29 3 *")
    assert rule.next_after(utc("2026-03-01 00:00"), BERLIN) == utc("2026-03-29 01:00")
    # Strictly after: asked from that very instant, it is next year's.
    assert rule.next_after(utc("2026-03-29 01:00"), BERLIN) == utc("2027-03-29 00:30")


# --- a repeat: clocks go back -----------------------------------------------------------------


@pytest.mark.parametrize("rule", ["cron:30 2 * * *", "rrule:FREQ=DAILY;BYHOUR=2;BYMINUTE=30"])
def test_a_repeated_wall_time_in_berlin_runs_once_at_its_first_occurrence(rule: str) -> None:
    assert slots(rule, "2026-10-24 12:00", "2026-10-26 12:00", BERLIN) == [
        "2026-10-25T02:30+02:00",  # not again at 02:30+01:00
        "2026-10-26T02:30+01:00",
    ]


def test_every_half_hour_skips_the_repeated_hour_once_it_has_run() -> None:
    assert slots("cron:*/30 * * * *", "2026-10-24 23:30", "2026-10-25 02:30", BERLIN) == [
        "2026-10-25T02:00+02:00",
        "2026-10-25T02:30+02:00",
        "2026-10-25T03:00+01:00",  # 02:00 and 02:30 of the second pass already ran
        "2026-10-25T03:30+01:00",
    ]


def test_a_repeated_wall_time_in_new_york_runs_once() -> None:
    assert slots("cron:30 1 * * *", "2026-10-31 12:00", "2026-11-02 12:00", NEW_YORK) == [
        "2026-11-01T01:30-04:00",
        "2026-11-02T01:30-05:00",
    ]


def test_lord_howes_repeated_half_hour_runs_once() -> None:
    assert slots("cron:45 1 * * *", "2026-04-03 12:00", "2026-04-05 12:00", LORD_HOWE) == [
        "2026-04-04T01:45+11:00",
        "2026-04-05T01:45+11:00",  # the clocks go from 02:00 back to 01:30: not again
    ]
    assert slots("cron:*/15 1-2 5 4 *", "2026-04-04 14:00", "2026-04-04 16:30", LORD_HOWE) == [
        "2026-04-05T01:15+11:00",
        "2026-04-05T01:30+11:00",
        "2026-04-05T01:45+11:00",
        "2026-04-05T02:00+10:30",  # the half hour 01:30-02:00 came back and ran already
        "2026-04-05T02:15+10:30",
        "2026-04-05T02:30+10:30",
        "2026-04-05T02:45+10:30",
    ]


def test_asked_from_inside_the_second_pass_the_next_slot_is_after_it() -> None:
    rule = parse_rule("cron:30 2 * * *")
    second_pass = utc("2026-10-25 01:15")  # 02:15+01:00
    assert rule.next_after(second_pass, BERLIN) == utc("2026-10-26 01:30")
    assert parse_rule("cron:0 3 * * *").next_after(second_pass, BERLIN) == utc("2026-10-25 02:00")


# --- no DST -----------------------------------------------------------------------------------


def test_a_zone_without_dst_runs_every_wall_time_once() -> None:
    found = parse_rule("cron:30 2 * * *").slots(
        utc("2026-01-01 00:00"), utc("2027-01-01 00:00"), KOLKATA
    )
    assert len(found) == 365
    assert {slot.strftime("%H:%M") for slot in found} == {"21:00"}  # 02:30+05:30, in UTC


# --- every: is elapsed time -----------------------------------------------------------------


def test_an_interval_keeps_its_length_across_a_gap() -> None:
    assert slots("every:PT1H", "2026-03-28 23:30", "2026-03-29 02:00", BERLIN) == [
        "2026-03-29T01:00+01:00",
        "2026-03-29T03:00+02:00",  # one hour after 01:00+01:00
        "2026-03-29T04:00+02:00",
    ]


def test_an_interval_keeps_its_length_across_a_repeat() -> None:
    assert slots("every:PT1H", "2026-10-24 23:30", "2026-10-25 02:00", BERLIN) == [
        "2026-10-25T02:00+02:00",
        "2026-10-25T02:00+01:00",  # the same wall time, an hour later: it runs again
        "2026-10-25T03:00+01:00",
    ]


def test_a_daily_interval_moves_in_local_time_when_the_clocks_change() -> None:
    found = parse_rule("every:P1D@2026-01-01T09:00").slots(
        utc("2026-03-27 00:00"), utc("2026-03-31 00:00"), BERLIN
    )
    assert [b - a for a, b in itertools.pairwise(found)] == [timedelta(days=1)] * 3
    assert [slot.astimezone(BERLIN).strftime("%d %H:%M") for slot in found] == [
        "27 09:00",
        "28 09:00",
        "29 10:00",  # 24 hours after 09:00+01:00
        "30 10:00",
    ]


def test_an_anchor_in_a_gap_is_read_by_the_same_rule() -> None:
    rule = parse_rule("every:P1D@2026-03-29T02:30")
    assert rule.next_after(utc("2026-03-29 00:00"), BERLIN) == utc("2026-03-29 01:00")


def test_the_default_anchor_is_the_epoch_in_the_zone() -> None:
    # 1970-01-01T00:00 in Kolkata is 18:30 UTC: hours fall on the local hour there.
    assert parse_rule("every:PT1H").next_after(utc("2026-01-01 00:10"), KOLKATA) == utc(
        "2026-01-01 00:30"
    )
    assert parse_rule("every:PT1H").next_after(utc("2026-01-01 00:10"), parse_zone("UTC")) == utc(
        "2026-01-01 01:00"
    )


# --- arguments --------------------------------------------------------------------------------


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(InvalidInput, match="has no time zone"):
        parse_rule("cron:0 9 * * *").next_after(datetime(2026, 1, 1), BERLIN)


def test_a_zone_must_be_a_zoneinfo() -> None:
    with pytest.raises(InvalidInput, match=r"zoneinfo\.ZoneInfo"):
        parse_rule("cron:0 9 * * *").next_after(utc("2026-01-01 00:00"), "Europe/Berlin")  # type: ignore[arg-type]


def test_any_aware_instant_is_accepted_and_slots_are_in_utc() -> None:
    instant = datetime(2026, 1, 1, 12, tzinfo=BERLIN)
    slot = parse_rule("cron:0 13 * * *").next_after(instant, BERLIN)
    assert slot == utc("2026-01-01 12:00")
    assert slot is not None
    assert slot.tzinfo is UTC
