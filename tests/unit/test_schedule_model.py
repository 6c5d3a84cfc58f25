"""The schedule record and the slot marker: what they accept, and the clear errors they
give for what no store could hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from queued_jobs.errors import InvalidInput, PayloadTooLarge
from queued_jobs.models import new_job_id
from queued_jobs.schedules.model import (
    MAX_RULE_LENGTH,
    MAX_SCHEDULE_REQUEST_BYTES,
    CatchUp,
    Overlap,
    Schedule,
    SlotMarker,
)

#: Owners, names and rules refused: empty, blank, control characters, lone surrogates.
BAD_TEXT = ["", "   ", "nul\x00", "line\nbreak", "tab\there", "del\x7f", "c1\x85", "lone\udcff"]
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def make(**options: Any) -> Schedule:
    fields: dict[str, Any] = {"owner": "ada", "name": "n", "job_type": "t", "rule": "x"}
    return Schedule.new(**{**fields, **options})


def test_a_new_schedule_has_an_id_of_its_owner_and_the_defaults() -> None:
    made = make(now=NOW)

    assert made.id[-1] == new_job_id("ada")[-1]
    assert (made.created_at, made.updated_at) == (NOW, NOW)
    assert made.catch_up is CatchUp.ONCE
    assert made.overlap is Overlap.ALLOW
    assert made.time_zone == "UTC"
    assert made.version is None
    assert made.due_at is None
    assert not made.is_due(NOW)


def test_a_paused_schedule_is_not_due_whatever_its_next_slot() -> None:
    made = make(next_slot=NOW)

    assert made.is_due(NOW)
    assert not made.is_due(NOW - timedelta(microseconds=1))
    paused = made.with_changes(paused=True, now=NOW)
    assert paused.due_at is None
    assert not paused.is_due(NOW)


def test_with_changes_validates_and_keeps_the_version() -> None:
    stored = make().model_copy(update={"version": "7"})

    changed = stored.with_changes(rule="every:PT20M", now=NOW)

    assert changed.version == "7"
    assert changed.updated_at == NOW
    with pytest.raises(InvalidInput, match="catch_up_limit"):
        stored.with_changes(catch_up_limit=0)
    with pytest.raises(InvalidInput, match="does not belong to this owner"):
        stored.with_changes(owner="someone else entirely")


def test_times_are_kept_in_utc() -> None:
    paris = datetime(2030, 6, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    made = make(next_slot=paris, now=paris)

    assert made.next_slot == paris
    assert made.next_slot is not None
    assert made.next_slot.tzinfo is UTC
    with pytest.raises(InvalidInput, match="timezone-aware"):
        make(next_slot=datetime(2030, 1, 1))


def test_a_request_over_32_kib_is_refused_before_anything_is_made() -> None:
    make(request="x" * (MAX_SCHEDULE_REQUEST_BYTES - 2))
    with pytest.raises(PayloadTooLarge, match="32,768"):
        make(request="x" * (MAX_SCHEDULE_REQUEST_BYTES - 1))
    with pytest.raises(InvalidInput, match="not finite"):
        make(request={"n": float("nan")})


def test_owners_names_and_rules_with_control_characters_are_refused() -> None:
    for text in BAD_TEXT:
        for field in ("owner", "name", "rule"):
            if field == "owner" and not text.strip() and text:
                continue  # a blank owner is an owner, as a job's is
            if field == "rule" and text in ("line\nbreak", "tab\there"):
                continue  # a recurrence rule's canonical text has lines
            options: dict[str, Any] = {
                "owner": "ada",
                "name": "n",
                "job_type": "t",
                "rule": "cron:* * * * *",
                field: text,
            }
            with pytest.raises(InvalidInput, match=field):
                Schedule.new(**options)


def test_rule_name_and_time_zone_texts_are_bounded() -> None:
    assert make(rule="r" * MAX_RULE_LENGTH).rule == "r" * MAX_RULE_LENGTH
    with pytest.raises(InvalidInput, match="at most 2,000"):
        make(rule="r" * (MAX_RULE_LENGTH + 1))
    assert make(name="n" * 200).name == "n" * 200
    with pytest.raises(InvalidInput, match="at most 200"):
        make(name="n" * 201)
    for zone in ("UTC", "Europe/Paris", "Etc/GMT+5", "America/Argentina/Buenos_Aires", "z" * 64):
        assert make(time_zone=zone).time_zone == zone
    for zone in ("", "z" * 65, "Europe/../Paris", "/etc/passwd", "Europe Paris", "Zürich", "a//b"):
        with pytest.raises(InvalidInput, match="time zone"):
            make(time_zone=zone)
    for limit in (0, 1001):
        with pytest.raises(InvalidInput, match="catch_up_limit"):
            make(catch_up_limit=limit)
    with pytest.raises(InvalidInput, match="catch_up"):
        make(catch_up="sometimes")
    with pytest.raises(InvalidInput, match="max_run_time"):
        make(max_run_time=timedelta(0))
    with pytest.raises(InvalidInput, match="job type"):
        make(job_type="not a type")


def test_a_marker_needs_ids_a_host_and_times_from_1970() -> None:
    schedule_id = make().id
    made = SlotMarker.of(schedule_id, NOW, job_id=new_job_id("ada"), fired_by="box:1")

    assert made.slot == NOW
    for bad in (
        {"job_id": "nope"},
        {"fired_by": ""},
        {"fired_by": "line\nbreak"},
        {"fired_at": datetime(1969, 1, 1, tzinfo=UTC)},
    ):
        fields: dict[str, Any] = {"job_id": made.job_id, "fired_by": "box:1", **bad}
        with pytest.raises(InvalidInput):
            SlotMarker.of(schedule_id, NOW, **fields)
    with pytest.raises(InvalidInput, match="schedule id"):
        SlotMarker.of("nope", NOW, job_id=made.job_id, fired_by="box:1")


def test_a_rule_may_have_lines_but_no_other_control_characters() -> None:
    text = "rrule:DTSTART:20300101T090000\nRRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1"
    assert make(rule=text).rule == text
    assert make(rule="rrule:FREQ=DAILY\r\n\tRRULE:FREQ=WEEKLY").rule.count("\n") == 1
    for bad in ("cron:\x00* * * * *", "every:\x1bPT1M", "every:PT1M\x85", "x\x0by"):
        with pytest.raises(InvalidInput, match="rule must not contain control characters"):
            make(rule=bad)
