"""Hostile input to the client: requests and custom data that would not read back, text
that is not Unicode, ids that are not job ids. Each is refused in a sentence before
anything is stored or sent, on memory and SQLite alike."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, JsonValue

from queued_jobs import SqliteStorage
from queued_jobs.client import JobClient
from queued_jobs.clock import ManualClock
from queued_jobs.errors import InvalidInput, JobAlreadyExists, JobNotFound, PayloadTooDeep
from queued_jobs.models import MAX_INT_DIGITS, JobStatus, new_job_id
from queued_jobs.queues.memory import MemoryQueueBroker
from queued_jobs.repositories.memory import MemoryJobRepository
from queued_jobs.runner import JobRegistry
from tests.support.unreadable_rows import nested

UNDECODABLE = b"\xff".decode("utf-8", "surrogateescape")  # what undecodable bytes become


class Reading(BaseModel):
    value: float
    points: list[Any] = []
    data: JsonValue = None


def _registry() -> JobRegistry:
    registry = JobRegistry()

    @registry.job(name="anyreq")
    async def anyreq(request: Any) -> Any:
        return request

    @registry.job(name="reading")
    async def reading(request: Reading) -> None:
        return None

    @registry.job(name="answer", max_attempts=1)
    async def answer(request: str) -> Any:
        return {"huge": 10**5000, "inf": {"x": math.inf}, "deep": nested(300)}[request]

    return registry


@pytest.fixture(params=["memory", "sqlite"])
async def client(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[JobClient]:
    clock = ManualClock()
    if request.param == "memory":
        repository, broker = MemoryJobRepository(clock=clock), MemoryQueueBroker(clock=clock)
    else:
        repository, broker = SqliteStorage(str(tmp_path / "jobs.db")).open(clock)
    client = JobClient(repository, broker, _registry(), clock=clock, inline=True)
    await client.create_storage()
    yield client
    await client.close()


REFUSED_REQUESTS: dict[str, tuple[str, Any, type[Exception], str]] = {
    "int-of-5001-digits": ("anyreq", {"x": 10**5000}, InvalidInput, "integer of 5,001 digits"),
    "int-of-4301-digits": ("anyreq", [-(10**MAX_INT_DIGITS)], InvalidInput, "4,301 digits"),
    "infinity": ("anyreq", {"x": math.inf}, InvalidInput, "not finite"),
    "nan": ("anyreq", [1.0, math.nan], InvalidInput, "not finite"),
    "infinity-in-a-model": ("reading", Reading(value=-math.inf), InvalidInput, "not finite"),
    "nan-in-a-model-as-dict": ("reading", {"value": math.nan}, InvalidInput, "not finite"),
    "300-deep": ("anyreq", {"x": nested(300)}, PayloadTooDeep, "nested more than 64"),
    "100000-deep": ("anyreq", nested(100_000), PayloadTooDeep, "nested more than 64"),
    "300-deep-in-a-model": ("reading", {"value": 1, "points": nested(300)}, PayloadTooDeep, "64"),
    "300-deep-json-value": ("reading", {"value": 1, "data": nested(300)}, PayloadTooDeep, "64"),
}


@pytest.mark.parametrize(
    ("job_type", "request_", "error", "message"), REFUSED_REQUESTS.values(), ids=REFUSED_REQUESTS
)
async def test_a_request_that_would_not_read_back_is_refused_and_nothing_stored(
    client: JobClient, job_type: str, request_: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await client.queue_job(job_type, request_, owner="ada")

    assert (await client.repository.list_jobs()).items == []


@pytest.mark.parametrize(
    "custom_data",
    [{"x": math.inf}, {"x": [math.nan]}, {"x": 10**5000}, {"x": nested(300)}],
    ids=["infinity", "nan", "int-of-5001-digits", "300-deep"],
)
async def test_custom_data_that_would_not_read_back_is_refused_and_nothing_stored(
    client: JobClient, custom_data: Any
) -> None:
    with pytest.raises(InvalidInput, match="custom_data"):
        await client.queue_job("anyreq", {}, owner="ada", custom_data=custom_data)

    assert (await client.repository.list_jobs()).items == []


async def test_numbers_that_read_back_are_stored_as_given(client: JobClient) -> None:
    request = {"int": 10**MAX_INT_DIGITS - 1, "max": 1.7976931348623157e308, "text": "NaN"}

    job = await client.queue_job("anyreq", request, owner="ada", custom_data={"i": "Infinity"})

    assert (await client.get_job(job.id)).request == request
    assert job.custom_data == {"i": "Infinity"}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("huge", "integer of 5,001 digits"),
        ("inf", "not finite"),
        ("deep", "the result is nested more than 64 levels"),
    ],
)
async def test_a_result_that_would_not_read_back_fails_the_job_with_the_reason(
    client: JobClient, answer: str, reason: str
) -> None:
    job = await client.queue_job("answer", answer, owner="ada")

    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert reason in job.error.message
    assert (await client.get_job(job.id)).status is JobStatus.FAILED
    assert (await client.repository.list_jobs()).skipped == []


@pytest.mark.parametrize(
    "options",
    [
        {"owner": UNDECODABLE},
        {"owner": "\ud800"},
        {"tags": ["fine", UNDECODABLE]},
        {"unique_key": f"k{UNDECODABLE}"},
        {"correlation_id": "\udfff"},
    ],
    ids=["owner-from-a-shell", "owner-lone-high-surrogate", "tag", "unique-key", "correlation-id"],
)
async def test_text_that_is_not_unicode_is_refused_before_anything_is_stored(
    client: JobClient, options: dict[str, Any]
) -> None:
    options = {"owner": "ada", **options}

    with pytest.raises(InvalidInput, match="not valid Unicode text") as refused:
        await client.queue_job("anyreq", {}, **options)

    assert "\n" not in str(refused.value)
    str(refused.value).encode("utf-8")  # the message itself can be printed
    assert (await client.repository.list_jobs()).items == []


NOT_JOB_IDS = [
    UNDECODABLE,
    "\ud800" * 29,
    "",
    "nope",
    "0" * 28,
    "G" * 29,
    "F" * 29,
    "0" * 29 + "\n",
    "f" * 100_000,
]


@pytest.mark.parametrize("job_id", NOT_JOB_IDS, ids=range(len(NOT_JOB_IDS)))
async def test_an_id_that_is_not_a_job_id_names_no_job_for_every_verb(
    client: JobClient, job_id: str
) -> None:
    for verb in (client.get_job, client.cancel, client.retry, client.list_attempts, client.wait):
        with pytest.raises(JobNotFound) as missing:
            await verb(job_id)
        assert missing.value.job_id == job_id


async def test_a_well_formed_id_of_no_job_still_asks_the_store(client: JobClient) -> None:
    with pytest.raises(JobNotFound):
        await client.get_job(new_job_id("ada"))


async def test_a_job_id_made_ahead_stores_the_job_once_under_it(client: JobClient) -> None:
    job_id = new_job_id("alice")
    job = await client.queue_job("anyreq", 1, owner="alice", job_id=job_id)
    assert job.id == job_id
    with pytest.raises(JobAlreadyExists):
        await client.queue_job("anyreq", 2, owner="alice", job_id=job_id)
    assert (await client.get_job(job_id)).request == 1


@pytest.mark.parametrize("job_id", ["not-an-id", new_job_id("bob")], ids=["no-id", "bobs-id"])
async def test_a_job_id_that_is_not_one_of_the_owner_is_refused(
    client: JobClient, job_id: str
) -> None:
    with pytest.raises(InvalidInput, match=r"job id|does not belong"):
        await client.queue_job("anyreq", 1, owner="alice", job_id=job_id)
    assert (await client.list_jobs()).items == []
