"""Previews of a schedule's next slots, time zones by IANA name, and rules in pydantic
models."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from queued_jobs.errors import InvalidInput, InvalidRule, UnknownTimeZone
from queued_jobs.schedules import Rule, parse_rule, parse_zone, preview

AFTER = datetime(2026, 3, 27, 12, tzinfo=UTC)


def test_a_preview_lists_the_next_slots_in_local_time() -> None:
    slots = preview("cron:30 2 * * *", "Europe/Berlin", AFTER, 3)
    assert [slot.isoformat() for slot in slots] == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]
    assert all(isinstance(slot.tzinfo, ZoneInfo) for slot in slots)


def test_a_preview_takes_a_rule_and_a_zone_object_too() -> None:
    rule = parse_rule("every:PT20M")
    zone = parse_zone("Asia/Kolkata")
    assert preview(rule, zone, AFTER, 2) == preview(rule.text, "Asia/Kolkata", AFTER, 2)
    assert len(preview(rule, zone, AFTER)) == 10


def test_a_preview_is_shorter_when_the_rule_ends() -> None:
    rule = "rrule:DTSTART:20260401T090000\nRRULE:FREQ=DAILY;COUNT=3"
    assert len(preview(rule, "UTC", AFTER, 10)) == 3


def test_a_preview_refuses_what_it_cannot_show() -> None:
    with pytest.raises(UnknownTimeZone, match="'Mars/Olympus_Mons'"):
        preview("cron:0 9 * * *", "Mars/Olympus_Mons", AFTER)
    with pytest.raises(InvalidInput, match="count"):
        preview("cron:0 9 * * *", "UTC", AFTER, 0)
    with pytest.raises(InvalidInput, match="count"):
        preview("cron:0 9 * * *", "UTC", AFTER, 1_001)
    with pytest.raises(InvalidInput, match="no time zone"):
        preview("cron:0 9 * * *", "UTC", datetime(2026, 1, 1), 1)
    with pytest.raises(InvalidRule):
        preview("cron:0 9 * *", "UTC", AFTER)


@pytest.mark.parametrize(
    "name", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
)
def test_an_iana_zone_is_read_by_name(name: str) -> None:
    assert parse_zone(name) == ZoneInfo(name)


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "europe/berlin",
        "Europe/Berlin ",
        "",
        "../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "Europe/Berlin\x00",
        "localtime",
        "posixrules",
        "Factory",
        "x" * 10_000,
    ],
)
def test_an_unknown_zone_is_refused_by_name(name: str) -> None:
    with pytest.raises(UnknownTimeZone) as refused:
        parse_zone(name)
    assert "unknown time zone" in str(refused.value)
    assert "IANA" in str(refused.value)
    assert isinstance(refused.value, InvalidInput)


def test_zones_work_without_the_systems_database() -> None:
    """With no system zone files at all (PYTHONTZPATH empty), the tzdata package serves."""
    script = textwrap.dedent(
        """
        import zoneinfo
        from datetime import UTC, datetime
        from queued_jobs.schedules import parse_rule, parse_zone

        assert zoneinfo.TZPATH == ()
        zone = parse_zone("Australia/Lord_Howe")
        slot = parse_rule("cron:15 2 * * *").next_after(datetime(2026, 10, 3, 12, tzinfo=UTC), zone)
        print(slot.astimezone(zone).isoformat())
        """
    )
    env = {**os.environ, "PYTHONTZPATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2026-10-04T02:30:00+11:00"


class Schedule(BaseModel):
    rule: Rule


def test_a_rule_field_reads_text_and_writes_it_back() -> None:
    schedule = Schedule.model_validate({"rule": "cron:0 9 * * mon-fri"})
    assert schedule.rule == parse_rule("cron:0 9 * * MON-FRI")
    assert schedule.model_dump() == {"rule": "cron:0 9 * * MON-FRI"}
    assert schedule.model_dump_json() == '{"rule":"cron:0 9 * * MON-FRI"}'
    assert Schedule.model_validate_json(schedule.model_dump_json()) == schedule
    assert Schedule(rule=parse_rule("every:PT1H")).rule.text == "every:PT1H"
    assert Schedule.model_json_schema()["properties"]["rule"]["type"] == "string"


def test_a_rule_field_refuses_a_bad_rule_with_its_message() -> None:
    with pytest.raises(ValidationError, match="seconds field"):
        Schedule.model_validate({"rule": "cron:* * * * * *"})
    with pytest.raises(ValidationError, match="a rule is text"):
        Schedule.model_validate({"rule": 42})
