"""The job record, its validation and the transition table."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from pydantic_core import from_json, to_json

from queued_jobs.errors import InvalidInput, InvalidTransition, PayloadTooDeep
from queued_jobs.models import (
    MAX_INT_DIGITS,
    MAX_NESTING,
    TERMINAL_STATUSES,
    TRANSITIONS,
    JobError,
    JobStatus,
    Progress,
    QueuedJob,
    can_transition,
    check_nesting,
    check_payload,
    is_job_id,
    new_job_id,
    owner_shard,
)

NOW = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def job(**changes: object) -> QueuedJob:
    return QueuedJob.new(owner="alice", job_type="reports.monthly", now=NOW).model_copy(
        update=changes
    )


def test_every_status_has_a_row_in_the_transition_table() -> None:
    assert set(TRANSITIONS) == set(JobStatus)


def test_nothing_leaves_success_and_failures_only_go_back_to_the_queue() -> None:
    assert TRANSITIONS[JobStatus.SUCCEEDED] == frozenset()
    for status in TERMINAL_STATUSES - {JobStatus.SUCCEEDED}:
        assert TRANSITIONS[status] == {JobStatus.QUEUED}


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobStatus.QUEUED, JobStatus.SUCCEEDED),
        (JobStatus.SCHEDULED, JobStatus.RUNNING),
        (JobStatus.SUCCEEDED, JobStatus.QUEUED),
        (JobStatus.CANCELLED, JobStatus.RUNNING),
        (JobStatus.FAILED, JobStatus.FAILED),
    ],
)
def test_illegal_transitions_are_refused_naming_the_job(
    current: JobStatus, target: JobStatus
) -> None:
    record = job(status=current)

    assert not can_transition(current, target)
    with pytest.raises(InvalidTransition, match=f"{record.id}: cannot go from {current}"):
        record.transition(target, now=NOW)


def test_a_legal_transition_returns_a_changed_copy_and_leaves_the_original() -> None:
    record = job()
    later = NOW + timedelta(seconds=3)

    running = record.transition(JobStatus.RUNNING, now=later, started_at=later, attempts=1)

    assert (running.status, running.updated_at, running.attempts) == ("running", later, 1)
    assert (record.status, record.updated_at) == (JobStatus.QUEUED, NOW)
    with pytest.raises(ValidationError):
        running.status = JobStatus.FAILED  # type: ignore[misc]


def test_ids_sort_by_creation_time_and_carry_the_owner_shard() -> None:
    ids = [new_job_id("bob", now=NOW + timedelta(milliseconds=i)) for i in range(50)]

    assert ids == sorted(ids)
    assert len(set(ids)) == 50
    assert {int(i[-1], 16) for i in ids} == {owner_shard("bob")}


def test_owner_shards_are_stable_across_processes_and_releases() -> None:
    # Stored ids depend on these values: changing the hash would orphan every job.
    assert [owner_shard(o) for o in ("alice", "bob", "", "ünïcode")] == [5, 12, 14, 15]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"owner": "bad\nowner"}, "control characters"),
        ({"owner": ""}, "must not be empty"),
        ({"owner": "x" * 257}, "at most 256"),
        ({"queue": "Jobs_High"}, "queue name 'Jobs_High' is not valid"),
        ({"job_type": "not a type"}, "job type 'not a type' is not valid"),
        ({"created_at": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"id": "not-an-id"}, "String should match pattern"),
        ({"max_attempts": 0}, "greater than or equal to 1"),
        ({"tags": ("t",) * 33}, "at most 32"),
    ],
)
def test_invalid_fields_are_refused_with_a_clear_message(
    changes: dict[str, object], message: str
) -> None:
    data = job().model_dump() | changes

    with pytest.raises(ValidationError, match=message):
        QueuedJob.model_validate(data)


def test_an_id_made_for_another_owner_is_refused() -> None:
    other = next(o for o in ("bob", "carol", "dave") if owner_shard(o) != owner_shard("alice"))

    with pytest.raises(ValidationError, match="does not belong to this owner"):
        QueuedJob.model_validate(job().model_dump() | {"id": new_job_id(other)})


def test_timestamps_are_kept_in_utc_to_the_microsecond() -> None:
    plus_two = datetime(2030, 5, 6, 9, 8, 9, 123456).astimezone()  # any aware time
    record = QueuedJob.model_validate(job().model_dump() | {"run_at": plus_two})

    assert record.run_at == plus_two
    assert record.run_at is not None
    assert record.run_at.tzinfo == UTC
    assert QueuedJob.model_validate_json(record.model_dump_json()) == record


def test_job_error_captures_type_message_chain_and_traceback() -> None:
    def fail() -> None:
        try:
            raise KeyError("missing-file")
        except KeyError as cause:
            raise RuntimeError("zip failed") from cause

    with pytest.raises(RuntimeError) as caught:
        fail()
    error = JobError.from_exception(caught.value)

    assert error.type == "builtins.RuntimeError"
    assert error.message == "zip failed <- KeyError: 'missing-file'"
    assert error.traceback is not None
    assert "in fail" in error.traceback


def test_long_error_texts_are_cut_keeping_the_start_of_messages_and_end_of_tracebacks() -> None:
    error = JobError(type="E", message="m" * 10_000 + "END", traceback="START" + "t" * 40_000)

    assert len(error.message) == 4_000
    assert error.message.startswith("mmm")
    assert error.traceback is not None
    assert len(error.traceback) == 16_000
    assert error.traceback.endswith("ttt")
    assert not error.traceback.startswith("START")


def test_progress_is_a_percentage() -> None:
    assert Progress(percent=42.5, message="halfway").percent == 42.5
    with pytest.raises(ValidationError):
        Progress(percent=101)


def test_duration_is_known_once_started_and_completed() -> None:
    started = job(started_at=NOW)

    assert started.duration is None
    assert started.model_copy(update={"completed_at": NOW + timedelta(seconds=90)}).duration == (
        timedelta(seconds=90)
    )


@pytest.mark.parametrize(
    "leaf",
    [
        1,
        "plain",
        "[[[[ {{{{ brackets in a string",
        ']]]] }}}} "closing" ones, \\ and \\" escaped',
        ["", "[", "", "]", '\\"[', "\\\\", '"}'],
    ],
)
def test_nesting_is_counted_in_levels_of_lists_and_objects_whatever_strings_hold(
    leaf: object,
) -> None:
    def nested(levels: int) -> object:
        value: object = leaf
        for level in range(levels):
            value = [value, "]"] if level % 2 else {"k{": value, "[": "}"}
        return value

    extra = 1 if isinstance(leaf, list) else 0
    check_nesting(nested(MAX_NESTING - extra), "the request")
    with pytest.raises(PayloadTooDeep, match="the request is nested more than 64 levels"):
        check_nesting(nested(MAX_NESTING + 1 - extra), "the request")
    with pytest.raises(PayloadTooDeep):
        check_nesting(nested(300), "the request")  # past what the serializer itself takes


def test_the_nesting_check_agrees_with_a_plain_count_on_random_json() -> None:
    rng = random.Random(20261201)
    texts = [1, "[", "]", '"{', "\\", 'a\\"]', "", "}}"]

    def value(levels: int) -> object:
        if levels == 0 or rng.random() < 0.2:
            return rng.choice(texts)
        if rng.random() < 0.5:
            return [value(levels - 1) for _ in range(rng.randint(0, 3))]
        return {f"{rng.choice(texts)}{i}": value(levels - 1) for i in range(rng.randint(0, 3))}

    def depth(v: object) -> int:
        children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else None
        return 0 if children is None else 1 + max(map(depth, children), default=0)

    for _ in range(500):
        v = value(rng.randint(0, 20))
        for limit in (1, 3, 8, 9, 12):
            if depth(v) > limit:
                with pytest.raises(PayloadTooDeep):
                    check_nesting(v, "v", limit=limit)
            else:
                check_nesting(v, "v", limit=limit)


def test_the_number_check_refuses_exactly_what_the_reader_cannot_read_back() -> None:
    rng = random.Random(20261202)
    long = 10**MAX_INT_DIGITS
    numbers = [0, -1, 1.5, long - 1, -(long - 1), long, -long, 10**5000, math.inf, math.nan]
    texts = ["NaN", "-Infinity", "9" * 5000, '\\"' + "9" * 4400 + "\\\\", "I", "N", ""]

    def value(levels: int) -> object:
        if levels == 0 or rng.random() < 0.3:
            return rng.choice(numbers + texts)
        if rng.random() < 0.5:
            return [value(levels - 1) for _ in range(rng.randint(0, 4))]
        return {f"{rng.choice(texts)}{i}": value(levels - 1) for i in range(rng.randint(0, 3))}

    for _ in range(300):
        v = value(rng.randint(0, 5))
        data = to_json(v)
        try:
            reads_back = from_json(data, allow_inf_nan=False) == v
        except ValueError:  # "number out of range", or a constant that is not JSON
            reads_back = False
        if reads_back:
            assert check_payload(v, "v") == data
        else:
            with pytest.raises(InvalidInput, match="v holds"):
                check_payload(v, "v")


def test_text_that_is_not_unicode_is_refused_by_the_record_and_replaced_in_errors() -> None:
    with pytest.raises(InvalidInput, match="owner is not valid Unicode text"):
        owner_shard("a\udcff")
    with pytest.raises(ValidationError, match="tag is not valid Unicode text"):
        QueuedJob.model_validate(job().model_dump() | {"tags": ["\ud800"]})

    error = JobError(type="E", message="bad \udcff here", traceback="line \ud83d\ude00\n")

    assert error.message == "bad \ufffd here"
    assert error.traceback == "line \U0001f600\n"
    assert is_job_id(new_job_id("a\U0001f600"))
    assert not is_job_id("A" * 29)
