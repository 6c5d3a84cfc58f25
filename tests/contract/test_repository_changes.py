"""``await_change``: a pause that ends when its job is written, where the store can tell
(memory in its process, SQLite across repositories and processes on one machine), and
lasts its time where it cannot (Azure Table). Every adapter."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.support.waiting import PATIENCE

from .conftest import RepositoryHarness
from .test_repository_contract import changed, make_job

pytestmark = pytest.mark.asyncio

#: Stores that hear of the writes made through another repository on the same store.
HEARS = {"memory", "sqlite"}
_SHORT = 0.3


async def _paused(h: RepositoryHarness, job_id: str, seconds: float) -> asyncio.Task[None]:
    """A pause of another repository on the same store, started and waiting."""
    reader = await h.open()
    task = asyncio.create_task(reader.await_change(job_id, seconds))
    await asyncio.sleep(0)  # runs to its wait: listening and registered
    return task


async def test_a_pause_ends_when_its_job_is_written_where_the_store_can_tell(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    writer = await h.open()
    job = await writer.insert(make_job(h))
    longest = 20 * PATIENCE
    pause = await _paused(h, job.id, longest)

    await writer.update(changed(job, progress=None, cancel_requested=True))

    await _ended_by_the_write(h, pause)


async def _ended_by_the_write(h: RepositoryHarness, pause: asyncio.Task[None]) -> None:
    """``pause`` ends soon, where the store can tell; else it keeps its (long) time."""
    if h.kind in HEARS:
        await asyncio.wait_for(pause, PATIENCE)
        return
    await asyncio.sleep(_SHORT)  # the table tells of no write: the pause keeps its time
    assert not pause.done()
    pause.cancel()


async def test_a_write_of_another_job_leaves_a_pause_to_its_time(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    writer = await h.open()
    job, other = await writer.insert(make_job(h)), await writer.insert(make_job(h))
    pause = await _paused(h, job.id, _SHORT)

    began = time.monotonic()
    await writer.update(changed(other, cancel_requested=True))
    await asyncio.wait_for(pause, PATIENCE)

    assert time.monotonic() - began >= _SHORT * 0.9


async def test_a_pause_for_a_job_that_does_not_exist_just_lasts_its_time(
    repositories: RepositoryHarness,
) -> None:
    repo = await repositories.open()
    began = time.monotonic()

    await asyncio.wait_for(repo.await_change("0" * 29, _SHORT), PATIENCE)

    assert time.monotonic() - began >= _SHORT * 0.9


async def test_deleting_a_job_ends_its_pauses_where_the_store_can_tell(
    repositories: RepositoryHarness,
) -> None:
    h = repositories
    writer = await h.open()
    job = await writer.insert(make_job(h))
    pause = await _paused(h, job.id, 20 * PATIENCE)

    await writer.delete(job.id)

    await _ended_by_the_write(h, pause)
