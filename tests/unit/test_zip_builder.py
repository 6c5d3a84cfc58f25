"""The sample zip builder, on in-memory storage, run inline."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from queued_jobs import (
    JobApp,
    JobCancelled,
    JobClient,
    JobContext,
    JobStatus,
    MemoryStorage,
    Progress,
    QueuedJob,
)
from queued_jobs.files import MemoryFileStore
from queued_jobs.samples import ZipRequest, ZipResult, zip_builder


@pytest.fixture
async def zips() -> AsyncIterator[tuple[JobClient, MemoryFileStore]]:
    app = JobApp(MemoryStorage())
    documents = app.files("documents")
    assert isinstance(documents, MemoryFileStore)
    app.job(name="samples.build_zip")(zip_builder(documents))
    for number in range(1, 4):
        await documents.write(f"invoices/INV-{number}.csv", f"line {number}\n".encode() * 50)
    await documents.write("invoices/old.zip", b"not zipped again")
    await documents.write("reports/q3.md", b"# Q3\n")
    async with app.client(inline=True) as client:
        yield client, documents


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


async def test_zips_the_files_under_a_prefix_and_returns_a_working_link(zips: Any) -> None:
    client, documents = zips

    job = await client.queue_job("samples.build_zip", {"prefix": "invoices/"}, owner="ada")

    assert job.status is JobStatus.SUCCEEDED
    result = ZipResult.model_validate(job.result)
    assert result.name == f"zips/{job.id}.zip"
    assert result.files == 3
    content = documents.resolve(result.url)
    assert len(content) == result.size
    assert entries(content) == {
        f"INV-{n}.csv": f"line {n}\n".encode() * 50 for n in range(1, 4)
    }  # the prefix is stripped; the existing zip is left out
    assert timedelta(days=3) - timedelta(seconds=5) < result.expires_at - job.completed_at
    assert result.expires_at - job.completed_at <= timedelta(days=3)


async def test_reports_progress_file_by_file_and_stops_when_cancelled(zips: Any) -> None:
    _, documents = zips
    seen: list[Progress] = []
    cancelled = asyncio.Event()

    async def sink(progress: Progress) -> None:
        seen.append(progress)
        if len(seen) == 2:
            cancelled.set()

    job = QueuedJob.new(owner="ada", job_type="samples.build_zip")
    context = JobContext(job, progress=sink, cancelled=cancelled, loop=asyncio.get_running_loop())

    with pytest.raises(JobCancelled):
        await zip_builder(documents)(ZipRequest(prefix="invoices/"), context)

    assert [round(p.percent) for p in seen] == [33, 67]
    assert seen[-1].message == "2/3 INV-2.csv"
    assert await documents.list("zips/") == []


async def test_a_named_zip_built_again_replaces_its_own_output(zips: Any) -> None:
    client, documents = zips
    request = {"prefix": "reports/", "name": "exports/reports.zip"}

    await client.queue_job("samples.build_zip", request, owner="ada")
    await documents.write("reports/q4.md", b"# Q4\n")
    await client.queue_job("samples.build_zip", request, owner="ada")

    zipped = [f.name for f in await documents.list("exports/")]
    assert zipped == ["exports/reports.zip"]
    assert set(entries(await documents.read("exports/reports.zip"))) == {"q3.md", "q4.md"}


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        ({"prefix": "nothing-here/"}, "there are no files to zip under 'nothing-here/'"),
        ({"prefix": "invoices/", "max_files": 2}, "3 files (1,050 bytes) under 'invoices/'"),
        ({"prefix": "invoices/", "max_bytes": 100}, "more than this job zips"),
    ],
)
async def test_a_folder_it_cannot_zip_fails_at_once_without_retries(
    zips: Any, request_: dict[str, Any], reason: str
) -> None:
    client, documents = zips

    job = await client.queue_job("samples.build_zip", request_, owner="ada")

    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert job.error is not None
    assert job.error.type.endswith("PermanentError")
    assert reason in job.error.message
    assert await documents.list("zips/") == []


async def test_a_link_lifetime_over_seven_days_is_refused_when_queued(zips: Any) -> None:
    client, _ = zips

    with pytest.raises(ValueError, match="link_valid_for"):
        await client.queue_job("samples.build_zip", {"link_valid_for": "P8D"}, owner="ada")
