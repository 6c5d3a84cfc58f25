"""The sample zip builder, on in-memory storage, run inline."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import IO, Any

import pytest

from queued_jobs import (
    JobApp,
    JobCancelled,
    JobClient,
    JobContext,
    JobStatus,
    MemoryStorage,
    PermanentError,
    Progress,
    QueuedJob,
)
from queued_jobs.files import MemoryFileStore, StoredFile
from queued_jobs.samples import ZipRequest, ZipResult, owner_folder, zip_builder
from queued_jobs.samples.zip_builder import MAX_ZIP_BYTES, MAX_ZIP_FILES


@pytest.fixture
async def zips() -> AsyncIterator[tuple[JobClient, MemoryFileStore]]:
    app = JobApp(MemoryStorage())
    documents = app.files("documents")
    assert isinstance(documents, MemoryFileStore)
    app.job(name="samples.build_zip")(zip_builder(documents))
    for number in range(1, 4):
        await documents.write(f"ada/invoices/INV-{number}.csv", f"line {number}\n".encode() * 50)
    await documents.write("ada/invoices/old.zip", b"not zipped again")
    await documents.write("ada/reports/q3.md", b"# Q3\n")
    await documents.write("grace/payroll.csv", b"grace's secret")
    await documents.write("grace/invoices/INV-9.csv", b"grace's invoice")
    async with app.client(inline=True) as client:
        yield client, documents


def entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def context_for(job: QueuedJob, *, attempt: int = 1) -> JobContext:
    async def ignore(progress: Progress) -> None:
        return None

    return JobContext(
        job.model_copy(update={"attempts": attempt}),
        progress=ignore,
        cancelled=asyncio.Event(),
        loop=asyncio.get_running_loop(),
    )


async def test_zips_the_owners_files_under_a_prefix_and_returns_a_working_link(
    zips: Any,
) -> None:
    client, documents = zips

    job = await client.queue_job("samples.build_zip", {"prefix": "invoices/"}, owner="ada")

    assert job.status is JobStatus.SUCCEEDED
    result = ZipResult.model_validate(job.result)
    assert result.name == f"ada/zips/{job.id}.zip"
    assert result.files == 3
    content = documents.resolve(result.url)
    assert len(content) == result.size
    assert entries(content) == {
        f"INV-{n}.csv": f"line {n}\n".encode() * 50 for n in range(1, 4)
    }  # named relative to the folder; the existing zip is left out, grace's invoice too
    assert timedelta(days=3) - timedelta(seconds=5) < result.expires_at - job.completed_at
    assert result.expires_at - job.completed_at <= timedelta(days=3)


async def test_an_empty_prefix_zips_the_owners_files_and_no_one_elses(zips: Any) -> None:
    client, documents = zips

    job = await client.queue_job("samples.build_zip", {}, owner="ada")

    assert job.status is JobStatus.SUCCEEDED, job.error
    zipped = entries(documents.resolve(ZipResult.model_validate(job.result).url))
    assert sorted(zipped) == [
        "invoices/INV-1.csv",
        "invoices/INV-2.csv",
        "invoices/INV-3.csv",
        "reports/q3.md",
    ]


async def test_a_prefix_matches_whole_folders_and_entries_never_climb_out(zips: Any) -> None:
    client, documents = zips
    await documents.write("ada/docs/a.txt", b"a")
    await documents.write("ada/docs../evil.sh", b"#!/bin/sh\nrm -rf ~\n")
    await documents.write("ada/docsx/b.txt", b"b")

    jobs = [
        await client.queue_job("samples.build_zip", {"prefix": prefix}, owner="ada")
        for prefix in ("docs", "docs/")
    ]

    for job in jobs:
        assert job.status is JobStatus.SUCCEEDED, job.error
        zipped = entries(documents.resolve(ZipResult.model_validate(job.result).url))
        assert zipped == {"a.txt": b"a"}


@pytest.mark.parametrize(
    "prefix", ["../grace", "..", "./invoices", "invoices/../../grace", "/grace", "a//b", "a\\b"]
)
async def test_a_prefix_that_is_not_a_folder_of_the_owners_is_refused_when_queued(
    zips: Any, prefix: str
) -> None:
    client, documents = zips

    with pytest.raises(ValueError, match="prefix"):
        await client.queue_job("samples.build_zip", {"prefix": prefix}, owner="ada")
    assert await documents.list("ada/zips/") == []


@pytest.mark.parametrize("owner", ["tenant/ada", "..", "."])
async def test_an_owner_that_cannot_name_a_folder_fails_at_once_and_zips_nothing(
    zips: Any, owner: str
) -> None:
    client, documents = zips

    job = await client.queue_job("samples.build_zip", {}, owner=owner)

    assert (job.status, job.attempts) == (JobStatus.FAILED, 1)
    assert job.error is not None
    assert "cannot name a folder" in job.error.message
    assert [f.name for f in await documents.list() if f.name.endswith(".zip")] == [
        "ada/invoices/old.zip"
    ]


async def test_a_named_zip_is_stored_under_the_job_in_the_owners_zips(zips: Any) -> None:
    client, documents = zips

    job = await client.queue_job(
        "samples.build_zip", {"prefix": "reports", "name": "Q3 reports.zip"}, owner="ada"
    )

    result = ZipResult.model_validate(job.result)
    assert result.name == f"ada/zips/{job.id}/Q3 reports.zip"
    assert set(entries(await documents.read(result.name))) == {"q3.md"}


@pytest.mark.parametrize(
    "name",
    ["../../grace/payroll.csv", "exports/reports.zip", "/abs.zip", "report.csv", "..", "a\\b.zip"],
)
async def test_a_name_that_is_not_a_plain_zip_file_name_is_refused_when_queued(
    zips: Any, name: str
) -> None:
    client, documents = zips

    with pytest.raises(ValueError, match="name"):
        await client.queue_job("samples.build_zip", {"name": name}, owner="ada")
    assert await documents.read("grace/payroll.csv") == b"grace's secret"


async def test_another_job_asking_for_the_same_name_leaves_a_given_link_serving_its_zip(
    zips: Any,
) -> None:
    client, documents = zips
    request = {"prefix": "reports/", "name": "reports.zip"}
    first = await client.queue_job("samples.build_zip", request, owner="ada")
    link = ZipResult.model_validate(first.result).url
    await documents.write("ada/reports/q4.md", b"# Q4\n")

    second = await client.queue_job("samples.build_zip", request, owner="ada")

    assert second.status is JobStatus.SUCCEEDED
    assert set(entries(documents.resolve(link))) == {"q3.md"}
    assert set(entries(documents.resolve(ZipResult.model_validate(second.result).url))) == {
        "q3.md",
        "q4.md",
    }


async def test_a_rerun_of_the_job_replaces_its_own_output(zips: Any) -> None:
    _, documents = zips
    job = QueuedJob.new(owner="ada", job_type="samples.build_zip")
    build = zip_builder(documents)
    await build(ZipRequest(prefix="reports"), context_for(job, attempt=1))
    await documents.write("ada/reports/q4.md", b"# Q4\n")

    again = await build(ZipRequest(prefix="reports"), context_for(job, attempt=2))

    assert again.name == f"ada/zips/{job.id}.zip"
    assert set(entries(await documents.read(again.name))) == {"q3.md", "q4.md"}


async def test_a_first_attempt_never_replaces_a_file_it_did_not_make(zips: Any) -> None:
    _, documents = zips
    job = QueuedJob.new(owner="ada", job_type="samples.build_zip")
    planted = f"ada/zips/{job.id}.zip"
    await documents.write(planted, b"made by someone else")

    with pytest.raises(PermanentError, match="did not make it"):
        await zip_builder(documents)(ZipRequest(prefix="reports"), context_for(job, attempt=1))

    assert await documents.read(planted) == b"made by someone else"


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
    assert await documents.list("ada/zips/") == []


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        ({"prefix": "nothing-here/"}, "there are no files to zip under 'nothing-here'"),
        ({"prefix": "invoices/", "max_files": 2}, "3 files (1,050 bytes) under 'invoices'"),
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
    assert await documents.list("ada/zips/") == []


@pytest.mark.parametrize(
    "request_",
    [
        {"link_valid_for": "P8D"},
        {"max_bytes": MAX_ZIP_BYTES + 1},
        {"max_files": MAX_ZIP_FILES + 1},
        {"max_bytes": 0},
    ],
    ids=["link-over-7-days", "bytes-over-the-bound", "files-over-the-bound", "no-bytes"],
)
async def test_a_limit_beyond_the_hard_bounds_is_refused_when_queued(
    zips: Any, request_: dict[str, Any]
) -> None:
    client, _ = zips

    with pytest.raises(ValueError, match=next(iter(request_))):
        await client.queue_job("samples.build_zip", request_, owner="ada")


class GrowsAfterListing(MemoryFileStore):
    """A store where another writer makes one file far larger right after each listing."""

    def __init__(self, container: str, grown: str, size: int) -> None:
        super().__init__(container)
        self.grown, self.size = grown, size
        self.read_bytes = 0

    async def list(self, prefix: str = "") -> list[StoredFile]:
        listed = await super().list(prefix)
        await self.write(self.grown, b"x" * self.size)
        return listed

    async def read_chunks(self, name: str) -> AsyncIterator[bytes]:  # type: ignore[override]
        async for chunk in super().read_chunks(name):
            self.read_bytes += len(chunk)
            yield chunk


async def test_a_file_that_grew_past_the_limit_after_listing_fails_the_job_unread(
    zips: Any,
) -> None:
    documents = GrowsAfterListing("documents", "ada/logs/b.log", size=40 * 1024 * 1024)
    await documents.write("ada/logs/a.log", b"a" * 100)
    await documents.write("ada/logs/b.log", b"b" * 100)
    job = QueuedJob.new(owner="ada", job_type="samples.build_zip")

    with pytest.raises(PermanentError, match="grew while it was zipped"):
        await zip_builder(documents)(ZipRequest(prefix="logs", max_bytes=1000), context_for(job))

    assert documents.read_bytes <= 100 + 4 * 1024 * 1024  # a.log, then one piece of b.log
    assert await documents.list("ada/zips/") == []


class RecordsWrites(MemoryFileStore):
    """A memory store that notes what each write was given."""

    def __init__(self, container: str) -> None:
        super().__init__(container)
        self.given: list[type] = []

    async def write(
        self,
        name: str,
        data: bytes | IO[bytes],
        *,
        content_type: str = "application/octet-stream",
        overwrite: bool = True,
    ) -> StoredFile:
        self.given.append(type(data))
        return await super().write(name, data, content_type=content_type, overwrite=overwrite)


async def test_the_zip_is_uploaded_from_a_temporary_file_not_from_bytes_in_memory() -> None:
    documents = RecordsWrites("documents")
    await documents.write("ada/docs/a.txt", b"a" * 1000)
    documents.given.clear()
    job = QueuedJob.new(owner="ada", job_type="samples.build_zip")

    result = await zip_builder(documents)(ZipRequest(prefix="docs"), context_for(job))

    assert len(documents.given) == 1
    assert not issubclass(documents.given[0], bytes | bytearray | memoryview)
    assert entries(await documents.read(result.name)) == {"a.txt": b"a" * 1000}


def test_an_owners_folder_is_the_owner_and_a_slash() -> None:
    assert owner_folder("ada@example.com") == "ada@example.com/"
    with pytest.raises(PermanentError, match="cannot name a folder"):
        owner_folder("a/b")
