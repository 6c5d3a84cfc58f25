"""One fixture per protocol, parametrised over every adapter: memory, SQLite, Azure (Azurite).

Each harness can open several independent clients on the same store, as separate
processes would, so the race tests are real races on the real store.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from queued_jobs.clock import ManualClock
from queued_jobs.queues.base import JobQueue
from queued_jobs.repositories.base import JobRepository

ADAPTERS = ["memory", "sqlite", pytest.param("azure", marks=pytest.mark.azurite)]


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@dataclass
class RepositoryHarness:
    kind: str
    clock: ManualClock
    _open: Callable[..., JobRepository]
    opened: list[JobRepository] = field(default_factory=list)

    async def open(self, **options: Any) -> JobRepository:
        """A repository on this test's store (a new client each call, except in memory)."""
        repository = self._open(clock=self.clock, **options)
        await repository.create()
        self.opened.append(repository)
        return repository


@pytest.fixture(params=ADAPTERS)
async def repositories(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[RepositoryHarness]:
    kind: str = request.param
    clock = ManualClock()
    if kind == "memory":
        from queued_jobs.repositories.memory import MemoryJobRepository

        shared: dict[str, MemoryJobRepository] = {}

        def open_memory(**options: Any) -> JobRepository:
            return shared.setdefault("repo", MemoryJobRepository(**options))

        harness = RepositoryHarness(kind, clock, open_memory)
    elif kind == "sqlite":
        from queued_jobs.repositories.sqlite import SqliteJobRepository

        path = tmp_path / "jobs.db"
        harness = RepositoryHarness(kind, clock, lambda **o: SqliteJobRepository(path, **o))
    else:
        from queued_jobs.repositories.azure_table import AzureTableJobRepository

        connection = request.getfixturevalue("azurite").connection_string
        table, container = _unique("jobs"), _unique("payloads")
        harness = RepositoryHarness(
            kind,
            clock,
            lambda **o: AzureTableJobRepository.from_connection_string(
                connection, table=table, container=container, **o
            ),
        )
    yield harness
    for repository in {id(r): r for r in harness.opened}.values():
        await repository.close()


@dataclass
class QueueHarness:
    kind: str
    name: str
    _broker: Callable[[], Any]
    _advance: Callable[[float], Any]
    brokers: list[Any] = field(default_factory=list)

    async def open(self, name: str | None = None) -> JobQueue:
        """The test's queue (or ``name``) through a new client on the same store."""
        broker = self._broker()
        self.brokers.append(broker)
        queue: JobQueue = broker.queue(name or self.name)
        await queue.create()
        return queue

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: a manual clock moves; against Azurite, real time passes."""
        result = self._advance(seconds)
        if asyncio.iscoroutine(result):
            await result


@pytest.fixture(params=ADAPTERS)
async def queues(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueueHarness]:
    kind: str = request.param
    name = _unique("q")
    clock = ManualClock()
    if kind == "memory":
        from queued_jobs.queues.memory import MemoryQueueBroker

        broker = MemoryQueueBroker(clock=clock)
        harness = QueueHarness(kind, name, lambda: broker, clock.advance)
    elif kind == "sqlite":
        from queued_jobs.queues.sqlite import SqliteQueueBroker

        path = tmp_path / "queues.db"
        harness = QueueHarness(
            kind, name, lambda: SqliteQueueBroker(path, clock=clock), clock.advance
        )
    else:
        from queued_jobs.queues.azure_queue import AzureQueueBroker

        connection = request.getfixturevalue("azurite").connection_string
        harness = QueueHarness(
            kind,
            name,
            lambda: AzureQueueBroker.from_connection_string(connection),
            asyncio.sleep,
        )
    yield harness
    for broker in {id(b): b for b in harness.brokers}.values():
        await broker.close()
