"""Rule texts: the three kinds, their canonical forms, and JobFac's rules as examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from queued_jobs.schedules import (
    CronRule,
    IntervalRule,
    RecurrenceRule,
    parse_rule,
    parse_zone,
    preview,
)

BERLIN = parse_zone("Europe/Berlin")
WEEKDAYS = "BYDAY=MO,TU,WE,TH,FR"


def local(text: str) -> datetime:
    """A Berlin wall time, as the aware instant it is."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def local_slots(text: str, after: str, count: int) -> list[str]:
    return [
        slot.strftime("%Y-%m-%d %a %H:%M") for slot in preview(text, BERLIN, local(after), count)
    ]


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("cron:0 9 * * mon-fri", "cron:0 9 * * MON-FRI"),
        ("  cron:  */15   8-17 * *   *  ", "cron:*/15 8-17 * * *"),
        ("CRON:0 0 1 jan *", "cron:0 0 1 JAN *"),
        ("cron:@Daily", "cron:@daily"),
        ("every:pt20m", "every:PT20M"),
        ("every:PT60M", "every:PT1H"),
        ("every:P1W", "every:P7D"),
        ("every:PT90M", "every:PT1H30M"),
        ("every:P1DT0H", "every:P1D"),
        ("every:PT1200S", "every:PT20M"),
        ("every:PT20M@2026-01-01T08:00", "every:PT20M@2026-01-01T08:00"),
        ("every:P1D @ 2026-01-01", "every:P1D@2026-01-01T00:00"),
        ("rrule:freq=daily;byhour=9", "rrule:FREQ=DAILY;BYHOUR=9"),
        ("rrule:RRULE:FREQ=DAILY;BYHOUR=9", "rrule:FREQ=DAILY;BYHOUR=9"),
        (
            "rrule:BYSETPOS=1;BYDAY=FR,MO,TU,WE,TH;FREQ=MONTHLY;INTERVAL=1;WKST=MO;BYSECOND=0",
            "rrule:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1",
        ),
        ("rrule:FREQ=MONTHLY;BYMONTHDAY=15,1,+15,01", "rrule:FREQ=MONTHLY;BYMONTHDAY=1,15"),
        (
            "rrule:DTSTART:20260105\r\nRRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4\n\n",
            "rrule:DTSTART:20260105T000000\nRRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=4",
        ),
        (
            "rrule:RRULE:FREQ=DAILY;UNTIL=20270215\nRRULE:FREQ=MONTHLY;BYDAY=-1FR,1MO",
            "rrule:RRULE:FREQ=DAILY;UNTIL=20270215\nRRULE:FREQ=MONTHLY;BYDAY=1MO,-1FR",
        ),
    ],
)
def test_a_rule_reads_to_its_canonical_text_and_back(written: str, canonical: str) -> None:
    rule = parse_rule(written)
    assert rule.text == canonical
    again = parse_rule(rule.text)
    assert again == rule
    assert again.text == canonical
    assert hash(again) == hash(rule)
    assert str(rule) == canonical
    assert repr(rule) == f"parse_rule({canonical!r})"


def test_each_kind_reads_to_its_own_class() -> None:
    assert isinstance(parse_rule("cron:0 9 * * *"), CronRule)
    interval = parse_rule("every:PT20M@2026-01-01T08:00")
    assert isinstance(interval, IntervalRule)
    assert interval.period == timedelta(minutes=20)
    assert interval.anchor == datetime(2026, 1, 1, 8, 0)
    recurrence = parse_rule("rrule:DTSTART:20260101T090000\nRRULE:FREQ=DAILY\nRRULE:FREQ=HOURLY")
    assert isinstance(recurrence, RecurrenceRule)
    assert recurrence.dtstart == datetime(2026, 1, 1, 9)
    assert recurrence.lines == ("FREQ=DAILY", "FREQ=HOURLY")
    assert parse_rule("cron:0 9 * * *") != parse_rule("cron:0 10 * * *")


# --- JobFac's rules --------------------------------------------------------------------------


def test_cron_weekdays_at_nine() -> None:
    assert local_slots("cron:0 9 * * MON-FRI", "2026-01-01 12:00", 4) == [
        "2026-01-02 Fri 09:00",
        "2026-01-05 Mon 09:00",
        "2026-01-06 Tue 09:00",
        "2026-01-07 Wed 09:00",
    ]


def test_every_twenty_minutes_from_the_epoch() -> None:
    assert local_slots("every:PT20M", "2026-01-01 12:05", 3) == [
        "2026-01-01 Thu 12:20",
        "2026-01-01 Thu 12:40",
        "2026-01-01 Thu 13:00",
    ]


def test_every_day_from_an_anchor_keeps_its_phase_before_and_after_it() -> None:
    rule = "every:P1D@2026-01-10T08:30"
    assert local_slots(rule, "2026-01-01 00:00", 2) == [
        "2026-01-01 Thu 08:30",
        "2026-01-02 Fri 08:30",
    ]


def test_rrule_first_weekday_of_the_month() -> None:
    rule = f"rrule:FREQ=MONTHLY;{WEEKDAYS};BYSETPOS=1;BYHOUR=9;BYMINUTE=0"
    assert local_slots(rule, "2026-01-15 00:00", 7) == [
        "2026-02-02 Mon 09:00",  # February 1st is a Sunday
        "2026-03-02 Mon 09:00",
        "2026-04-01 Wed 09:00",
        "2026-05-01 Fri 09:00",
        "2026-06-01 Mon 09:00",
        "2026-07-01 Wed 09:00",
        "2026-08-03 Mon 09:00",  # August 1st is a Saturday
    ]


def test_rrule_last_weekday_of_the_month() -> None:
    rule = f"rrule:FREQ=MONTHLY;{WEEKDAYS};BYSETPOS=-1;BYHOUR=17;BYMINUTE=30"
    assert local_slots(rule, "2026-01-01 00:00", 5) == [
        "2026-01-30 Fri 17:30",  # January 31st is a Saturday
        "2026-02-27 Fri 17:30",
        "2026-03-31 Tue 17:30",
        "2026-04-30 Thu 17:30",
        "2026-05-29 Fri 17:30",  # May 31st is a Sunday
    ]


def test_rrule_the_first_and_fifteenth_of_each_month() -> None:
    assert local_slots("rrule:FREQ=MONTHLY;BYMONTHDAY=1,15;BYHOUR=6", "2026-01-10 00:00", 4) == [
        "2026-01-15 Thu 06:00",
        "2026-02-01 Sun 06:00",
        "2026-02-15 Sun 06:00",
        "2026-03-01 Sun 06:00",
    ]


WINTER_WEEKDAYS = (
    "rrule:"
    f"RRULE:FREQ=DAILY;BYMONTH=11;BYMONTHDAY={','.join(map(str, range(15, 31)))};{WEEKDAYS};"
    "BYHOUR=7;BYMINUTE=0\n"
    f"RRULE:FREQ=DAILY;BYMONTH=12,1;{WEEKDAYS};BYHOUR=7;BYMINUTE=0\n"
    f"RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY={','.join(map(str, range(1, 16)))};{WEEKDAYS};"
    "BYHOUR=7;BYMINUTE=0"
)


def test_rrule_weekdays_between_november_15th_and_february_15th_every_year() -> None:
    rule = parse_rule(WINTER_WEEKDAYS)
    season = rule.slots(local("2026-06-01 00:00"), local("2027-06-01 00:00"), BERLIN)
    days = [slot.astimezone(BERLIN).date() for slot in season]
    assert days[0] == datetime(2026, 11, 16).date()  # the 15th is a Sunday
    assert days[-1] == datetime(2027, 2, 15).date()  # a Monday
    assert all(day.weekday() < 5 for day in days)
    assert datetime(2026, 12, 31).date() in days
    assert datetime(2027, 1, 1).date() in days  # across the new year, in one rule
    assert len(days) == len(set(days)) == 66
    assert {slot.astimezone(BERLIN).strftime("%H:%M") for slot in season} == {"07:00"}
    assert rule.next_after(local("2027-02-15 07:00"), BERLIN) == local("2027-11-15 07:00")


EVERY_TWENTY_MINUTES = f"FREQ=MINUTELY;INTERVAL=20;BYHOUR={','.join(map(str, range(8, 18)))}"


def test_rrule_every_twenty_minutes_from_eight_to_six() -> None:
    rule = parse_rule(f"rrule:{EVERY_TWENTY_MINUTES}")
    day = rule.slots(local("2026-01-05 00:00"), local("2026-01-06 00:00"), BERLIN)
    times = [slot.astimezone(BERLIN).strftime("%H:%M") for slot in day]
    assert len(times) == 30
    assert times[:4] == ["08:00", "08:20", "08:40", "09:00"]
    assert times[-1] == "17:40"  # BYHOUR=8..17: the 18:00 slot needs a line of its own
    with_six = parse_rule(
        f"rrule:RRULE:{EVERY_TWENTY_MINUTES}\nRRULE:FREQ=DAILY;BYHOUR=18;BYMINUTE=0"
    )
    day = with_six.slots(local("2026-01-05 00:00"), local("2026-01-06 00:00"), BERLIN)
    assert day[-1] == local("2026-01-05 18:00")
    assert len(day) == 31


def test_a_count_ends_the_rule_and_a_count_in_the_past_is_fine() -> None:
    rule = parse_rule("rrule:DTSTART:20200106T090000\nRRULE:FREQ=WEEKLY;COUNT=3")
    assert rule.slots(local("2020-01-01 00:00"), local("2021-01-01 00:00"), BERLIN) == [
        local("2020-01-06 09:00"),
        local("2020-01-13 09:00"),
        local("2020-01-20 09:00"),
    ]
    assert rule.next_after(local("2026-01-01 00:00"), BERLIN) is None


def test_an_until_date_keeps_the_whole_day() -> None:
    rule = parse_rule("rrule:FREQ=DAILY;BYHOUR=23;BYMINUTE=30;UNTIL=20260110")
    assert rule.next_after(local("2026-01-10 12:00"), BERLIN) == local("2026-01-10 23:30")
    assert rule.next_after(local("2026-01-10 23:30"), BERLIN) is None


def test_a_dtstart_sets_the_phase_of_an_interval_and_its_defaults() -> None:
    rule = parse_rule("rrule:DTSTART:20260107T081500\nRRULE:FREQ=WEEKLY;INTERVAL=2")
    assert local_slots(rule.text, "2026-03-01 00:00", 2) == [
        "2026-03-04 Wed 08:15",
        "2026-03-18 Wed 08:15",
    ]


def test_slots_are_strictly_after_the_start_and_up_to_the_end() -> None:
    rule = parse_rule("cron:0 * * * *")
    start, end = datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 13, tzinfo=UTC)
    assert rule.slots(start, end, parse_zone("UTC")) == [
        datetime(2026, 1, 1, hour, tzinfo=UTC) for hour in (11, 12, 13)
    ]
    assert rule.slots(start, end, parse_zone("UTC"), limit=2) == [
        datetime(2026, 1, 1, hour, tzinfo=UTC) for hour in (11, 12)
    ]
    assert rule.slots(end, start, parse_zone("UTC")) == []
    assert rule.next_after(start, parse_zone("UTC")) == datetime(2026, 1, 1, 11, tzinfo=UTC)
