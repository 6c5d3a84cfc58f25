"""Reading queue bodies: a job message decodes, anything else is an UnreadableMessage."""

from __future__ import annotations

import json

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

    decoded = decode_message(encode_message(job))

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
        '{"v": 1, "id": "' + "a" * 29 + '", "job": [1]}',
        '{"v": 1, "id": "' + "a" * 29 + '", "job": {"id": ' + "[" * 200 + "]" * 200 + "}}",
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
        "snapshot-not-object",
        "snapshot-deep",
        "other-format",
    ],
)
def test_any_other_body_is_an_unreadable_message_and_nothing_else(body: str) -> None:
    with pytest.raises(UnreadableMessage):
        decode_message(body)


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
