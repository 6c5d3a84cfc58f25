"""Reading queue bodies: a job message decodes, anything else is an UnreadableMessage."""

from __future__ import annotations

import json
from typing import Any

import pytest

from queued_jobs.clock import ManualClock
from queued_jobs.execution.messages import (
    MAX_DEPTH,
    UnreadableMessage,
    decode_message,
    encode_message,
)
from queued_jobs.execution.pipeline import Disposition, Pipeline
from queued_jobs.models import QueuedJob
from queued_jobs.queues.base import MAX_BODY_BYTES
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry

KEY = bytes(range(32))


def a_job(request: object = None) -> QueuedJob:
    return QueuedJob.new(
        owner="alice", job_type="tests.work", request=request or {}, now=ManualClock().now()
    )


def nested(depth: int) -> str:
    return '{"v": 1, "id": "x", "deep": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize(
    "body",
    [
        "[" * MAX_BODY_BYTES,  # would recurse past Python's limit
        "{" * MAX_BODY_BYTES,
        '{"a":' * (MAX_BODY_BYTES // 5),
        nested(MAX_DEPTH + 1),
    ],
    ids=["brackets", "braces", "objects", "just-too-deep"],
)
def test_a_body_nested_deeper_than_any_job_message_is_refused_before_parsing(body: str) -> None:
    with pytest.raises(UnreadableMessage, match="nested deeper than any job message"):
        decode_message(body)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    job = a_job({"text": "[" * 5_000 + '\\"{' * 500, "deep": [[[["ok"]]]]})

    decoded = decode_message(encode_message(job, KEY), KEY)

    assert decoded.snapshot == job


def test_nesting_up_to_the_limit_is_parsed_not_refused() -> None:
    with pytest.raises(UnreadableMessage, match="no job id"):  # read, then found to be no job
        decode_message(nested(MAX_DEPTH - 2))


@pytest.mark.parametrize(
    "body",
    [
        "x" * (MAX_BODY_BYTES + 1),
        '"' + '\\"' * 30_000,  # an unterminated string full of escapes
        "\\" * 40_000,
        "\x00\ud800 not json",
        "NaN",
        '{"v": 1, "id": 42}',
        '{"v": 1, "id": "ジョブ"}',
        json.dumps({"v": 2, "id": "a" * 29}),
    ],
    ids=[
        "oversized",
        "escapes",
        "backslashes",
        "control",
        "nan",
        "id-not-text",
        "id-not-ours",
        "other-format",
    ],
)
def test_any_other_body_is_an_unreadable_message_and_nothing_else(body: str) -> None:
    with pytest.raises(UnreadableMessage):
        decode_message(body)


def test_a_signed_snapshot_is_read_back_with_the_key_that_signed_it() -> None:
    job = a_job({"n": 1, "text": 'ジョブ \u2028 \\ "'})

    assert decode_message(encode_message(job, KEY), KEY).snapshot == job
    assert decode_message(encode_message(job, KEY)).snapshot is None  # no key: id only
    assert decode_message(encode_message(job, KEY), KEY).job_id == job.id


def test_a_message_says_whether_this_store_signed_it_with_or_without_a_snapshot() -> None:
    job = a_job({"n": 1})
    bare = encode_message(job, KEY, snapshot=False)
    large = encode_message(a_job({"text": "x" * MAX_BODY_BYTES}), KEY)

    assert decode_message(encode_message(job, KEY), KEY).signed
    assert (decode_message(bare, KEY).signed, decode_message(bare, KEY).snapshot) == (True, None)
    assert decode_message(large, KEY).signed  # too large for a snapshot: signed all the same
    assert '"job"' not in large
    assert not decode_message(bare, b"k" * 32).signed
    assert not decode_message(bare.replace(job.id, job.id[:-1] + "0"), KEY).signed
    assert not decode_message(bare[:-1] + ',"x":1}', KEY).signed
    assert not decode_message(f'{{"v":1,"id":"{job.id}"}}', KEY).signed


def forged(body: str, **changes: object) -> str:
    """``body`` with its snapshot changed as an attacker with the queue would: same id,
    version and signature, another record."""
    data = json.loads(body)
    data["job"].update(changes)
    return json.dumps(data, separators=(",", ":"))


@pytest.mark.parametrize(
    "make",
    [
        lambda body: forged(body, request={"n": 2}),
        lambda body: forged(body, max_attempts=99, run_at=None, tags=["vip"]),
        lambda body: body.replace('"n":1', '"n":2'),
        lambda body: body.replace('"n":1', '"n": 1'),  # even an equal record, re-spaced
        lambda body: encode_message(QueuedJob.model_validate_json(_snapshot(body)), b"k" * 32),
        lambda body: forged(body).replace('"sig":', '"signature":'),
        lambda body: json.dumps({k: v for k, v in json.loads(body).items() if k != "sig"}),
    ],
    ids=["request", "options", "in-place", "respaced", "other-key", "renamed-sig", "no-sig"],
)
def test_a_snapshot_not_signed_by_the_stores_key_is_ignored_and_only_the_id_kept(
    make: Any,
) -> None:
    job = a_job({"n": 1})
    body = make(encode_message(job, KEY))

    decoded = decode_message(body, KEY)

    assert (decoded.job_id, decoded.snapshot) == (job.id, None)


def test_a_forged_snapshot_is_named_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    job = a_job({"n": 1})

    decode_message(forged(encode_message(job, KEY), request={"n": 2}), KEY)

    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert job.id in caplog.text
    assert "not signed" in caplog.text


@pytest.mark.parametrize(
    "snapshot",
    ["[1]", '{"id": ' + "[" * 200 + "]" * 200 + "}", '"text"', "null", '{"id": "x"}'],
    ids=["not-object", "deep", "string", "null", "invalid"],
)
def test_a_job_message_with_a_foreign_snapshot_still_names_its_job(snapshot: str) -> None:
    body = '{"v": 1, "id": "' + "a" * 29 + '", "job": ' + snapshot + "}"

    decoded = decode_message(body, KEY)

    assert (decoded.job_id, decoded.snapshot) == ("a" * 29, None)


def _snapshot(body: str) -> str:
    return json.dumps(json.loads(body)["job"])


@pytest.mark.asyncio
async def test_the_pipeline_dead_letters_a_deeply_nested_body() -> None:
    clock = ManualClock()
    pipeline = Pipeline(
        MemoryJobRepository(clock=clock),
        MemoryQueueBroker(clock=clock),
        JobRegistry(),
        host="test:1",
        clock=clock,
    )

    handled = await pipeline.handle("[" * MAX_BODY_BYTES)
    poisoned = await pipeline.fail_poisoned("[" * MAX_BODY_BYTES, "delivered too often")

    assert handled.disposition is poisoned.disposition is Disposition.DEAD_LETTER
    assert "nested deeper" in handled.reason
