"""A job's output on every adapter: it reads back from every read and listing as it was
written, an output full of characters that JSON escapes is stored (on Azure cut to fit a
property, keeping its end) and stays readable, and the change feed carries the text a
write added, never again at a write that adds none."""

from __future__ import annotations

from datetime import timedelta

import pytest

from queued_jobs.models import (
    OUTPUT_TAIL_LIMIT,
    JobOutput,
    JobStatus,
    Progress,
    QueuedJob,
)
from queued_jobs.repositories.base import JobQuery

from .conftest import RepositoryHarness
from .test_repository_change_feed import changes_of, the_job
from .test_repository_contract import all_pages, changed, make_job, same

pytestmark = pytest.mark.asyncio

#: Characters JSON writes as they are, or escaped to two characters: 8,000 of each.
ESCAPING = {
    "replacement": "\ufffd",
    "tab": "\t",
    "quote": '"',
    "backslash": "\\",
    "line-end": "\n",
    "emoji": "🙂",
}


async def running(h: RepositoryHarness, output: JobOutput | None = None) -> QueuedJob:
    """A job claimed and running, with ``output``."""
    repo = await h.open()
    job = await repo.insert(make_job(h))
    now = h.clock.now()
    return await repo.update(
        job.transition(
            JobStatus.RUNNING, now=now, lease_expires_at=now + timedelta(minutes=1), output=output
        )
    )


async def test_a_job_s_output_reads_back_from_get_and_every_listing(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    printed = JobOutput().appended("building 1/3\nbuilding 2/3\n").appended("ünïcode ✓\tdone\n")

    inserted = await repo.insert(make_job(h, output=printed))
    updated = await repo.update(changed(inserted, output=printed.appended("more\n")))

    fetched = await repo.get(inserted.id)
    assert fetched == updated
    assert fetched.output == printed.appended("more\n")
    listed = [
        *(await all_pages(repo.list_by_owner, owner="alice")),
        *(await all_pages(repo.list_jobs)),
        *(await all_pages(repo.list_jobs, query=JobQuery(owner="alice"))),
        *(await all_pages(repo.list_jobs, query=JobQuery(statuses=frozenset({JobStatus.QUEUED})))),
    ]
    assert [same(job) for job in listed] == [same(updated)] * 4


async def test_a_job_without_output_reads_back_without_one(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    job = await repo.insert(make_job(repositories))

    assert (await repo.get(job.id)).output is None


@pytest.mark.parametrize("char", ESCAPING.values(), ids=ESCAPING.keys())
async def test_an_output_full_of_characters_json_escapes_is_stored_and_reads_back(
    repositories: RepositoryHarness, char: str
) -> None:
    h = repositories
    text = (char * (OUTPUT_TAIL_LIMIT - 1))[: OUTPUT_TAIL_LIMIT - 1] + "!"
    output = JobOutput(text=text, length=10**12, new=len(text))

    job = await running(h, output)

    repo = await h.open()
    fetched = await repo.get(job.id)
    assert fetched.output is not None
    assert fetched.output.length == 10**12
    assert text.endswith(fetched.output.text)  # the end is kept
    assert fetched.output.text.endswith("!")
    if h.kind.startswith("azure"):  # cut to a quarter of a property where it must be
        assert len(fetched.output.model_dump_json().encode("utf-16-le")) <= 16 * 1024
    else:
        assert fetched.output.text == text
    skipped, held = fetched.output.since(10**12 - OUTPUT_TAIL_LIMIT)
    assert skipped + len(held) == OUTPUT_TAIL_LIMIT
    [*_, change] = the_job(await changes_of(repo), job)
    assert (change.output, change.output_length) == (text, 10**12)


async def test_a_write_that_adds_output_records_a_change_carrying_what_it_added(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    job = await running(h)
    first = JobOutput().appended("one\n")

    one = await repo.update(changed(job, output=first))
    await repo.update(changed(one, output=first.appended("two\nthree\n")))

    changes = the_job(await changes_of(repo), job)
    assert [(c.status, c.output, c.output_length) for c in changes] == [
        (JobStatus.QUEUED, None, None),
        (JobStatus.RUNNING, None, None),
        (JobStatus.RUNNING, "one\n", 4),
        (JobStatus.RUNNING, "two\nthree\n", 14),
    ]


async def test_a_heartbeat_after_output_records_no_change_and_progress_carries_no_text(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    repo = await h.open()
    job = await running(h)
    now = h.clock.now()
    printed = await repo.update(changed(job, output=JobOutput().appended("hello\n")))
    before = the_job(await changes_of(repo), job)
    assert printed.output is not None

    renewed = await repo.update(
        changed(printed, lease_expires_at=now + timedelta(minutes=2), output=printed.output)
    )
    quiet = printed.output.model_copy(update={"new": 0})
    renewed = await repo.update(
        changed(renewed, lease_expires_at=now + timedelta(minutes=3), output=quiet)
    )
    assert the_job(await changes_of(repo), job) == before

    await repo.update(changed(renewed, progress=Progress(percent=50)))

    [*_, progressed] = the_job(await changes_of(repo), job)
    assert progressed.progress == Progress(percent=50)
    assert (progressed.output, progressed.output_length) == (None, None)
