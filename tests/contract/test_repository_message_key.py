"""The store's message key (``JobRepository.message_key``) on every adapter: made once,
the same for every client of the store, and read once per client."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import RepositoryHarness

pytestmark = pytest.mark.asyncio


async def test_the_message_key_is_32_random_bytes_that_stay_the_same(
    repositories: RepositoryHarness,
) -> None:
    repository = await repositories.open()

    key = await repository.message_key()

    assert isinstance(key, bytes)
    assert len(key) == 32
    assert len(set(key)) > 8  # random, not a constant filler
    assert await repository.message_key() == key


async def test_every_client_of_the_store_gets_the_same_key_even_when_asking_at_once(
    repositories: RepositoryHarness,
) -> None:
    clients = [await repositories.open() for _ in range(6)]

    keys = await asyncio.gather(*(client.message_key() for client in clients))
    later = await (await repositories.open()).message_key()

    assert len(set(keys)) == 1
    assert later == keys[0]


async def test_another_store_has_another_key(
    repositories: RepositoryHarness, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from queued_jobs.repositories.memory import MemoryJobRepository
    from queued_jobs.repositories.sqlite import SqliteJobRepository

    other = SqliteJobRepository(tmp_path_factory.mktemp("other") / "jobs.db")
    try:
        mine = await (await repositories.open()).message_key()
        assert mine != await other.message_key()
        assert mine != await MemoryJobRepository().message_key()
    finally:
        await other.close()
