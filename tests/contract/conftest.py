"""One fixture per protocol, parametrised over every adapter: memory, SQLite, Azure (Azurite).

Each harness can open several independent clients on the same store, as separate
processes would, so the race tests are real races on the real store. File stores are
parametrised over memory, a local directory (the SQLite backend's files) and Azure Blob.
"""

from __future__ import annotations

import asyncio
import posixpath
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from queued_jobs import StorageConnection
from queued_jobs.clock import ManualClock
from queued_jobs.errors import InvalidDownloadLink
from queued_jobs.files.base import DownloadLink, FileStore
from queued_jobs.models import QueuedJob
from queued_jobs.queues.base import JobQueue
from queued_jobs.repositories.base import JobRepository
from tests.support.identity import identity_connection, signed_for_azurite
from tests.support.unreadable_rows import (
    INLINE_DAMAGES,
    READ_BACK,
    UNREADABLE,
    Damage,
    plant_in_azure,
    plant_in_memory,
    plant_in_sqlite,
)

ADAPTERS = [
    "memory",
    "sqlite",
    pytest.param("azure", marks=pytest.mark.azurite),
    # Azure again, over HTTPS with Microsoft Entra tokens instead of the account key.
    pytest.param("azure-identity", marks=pytest.mark.azurite),
]


async def transports_closed(kind: str) -> None:
    """Let closed HTTP connections finish closing before the test's event loop ends: a
    closed aiohttp session's sockets (an HTTPS one's TLS shutdown above all) close a few
    loop turns later, and a loop closed first leaves them to be collected as unclosed
    transports, a warning that fails whichever test is running then (aiohttp's "graceful
    shutdown" advice). Only Azure adapters talk HTTP."""
    if kind.startswith("azure"):
        await asyncio.sleep(_TRANSPORTS_CLOSE)


def damaged_rows() -> list[Any]:
    """``(repositories, damage)`` parameters: each adapter with each damage it can hold
    (a missing payload blob only where payloads go to blobs: Azure)."""
    cases = []
    for adapter in ADAPTERS:
        if isinstance(adapter, str):
            kind, marks = adapter, ()
        else:
            kind, marks = str(adapter.values[0]), adapter.marks
        damages = UNREADABLE if kind.startswith("azure") else INLINE_DAMAGES
        cases += [pytest.param(kind, d, marks=marks, id=f"{kind}-{d}") for d in damages]
    return cases


#: aiohttp's advice for the TLS shutdown of a closed session's connections.
_TRANSPORTS_CLOSE = 0.1


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def _azure_connection(
    request: pytest.FixtureRequest, kind: str
) -> tuple[StorageConnection, dict[str, Any]]:
    """The Azurite connection of ``kind``: ``azure`` with the account key, ``azure-identity``
    with service URIs and bearer tokens over HTTPS (and the options to trust its
    certificate)."""
    if kind == "azure-identity":
        return identity_connection(request.getfixturevalue("azurite_oauth"))
    return StorageConnection.from_string(request.getfixturevalue("azurite").connection_string), {}


@dataclass
class RepositoryHarness:
    kind: str
    clock: ManualClock
    _open: Callable[..., JobRepository]
    #: Writes a job's rows straight into the store, damaged (``tests.support.unreadable_rows``).
    _plant: Callable[[QueuedJob, Damage], Awaitable[None]]
    #: The damages this store can hold.
    damages: list[Damage] = field(default_factory=lambda: list(INLINE_DAMAGES))
    opened: list[JobRepository] = field(default_factory=list)

    async def open(self, **options: Any) -> JobRepository:
        """A repository on this test's store (a new client each call, except in memory)."""
        repository = self._open(clock=self.clock, **options)
        await repository.create()
        self.opened.append(repository)
        return repository

    async def plant(self, job: QueuedJob, damage: Damage) -> None:
        """Store ``job``'s rows as a foreign writer or an older version would, with
        ``damage``: past the write gate, so that reading them back fails (or, for the
        damages in ``READ_BACK``, reads back as that older version wrote it)."""
        allowed = [*self.damages, *READ_BACK]
        assert damage in allowed, f"{self.kind} cannot hold a row with {damage}"
        await self._plant(job, damage)


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

        async def plant_memory(job: QueuedJob, damage: Damage) -> None:
            plant_in_memory(shared["repo"], job, damage)

        harness = RepositoryHarness(kind, clock, open_memory, plant_memory)
    elif kind == "sqlite":
        from queued_jobs.repositories.sqlite import SqliteJobRepository

        path = tmp_path / "jobs.db"

        async def plant_sqlite(job: QueuedJob, damage: Damage) -> None:
            plant_in_sqlite(path, job, damage)

        harness = RepositoryHarness(
            kind, clock, lambda **o: SqliteJobRepository(path, **o), plant_sqlite
        )
    else:
        from queued_jobs.repositories.azure_table import AzureTableJobRepository

        connection, client_options = _azure_connection(request, kind)
        table, container = _unique("jobs"), _unique("payloads")

        async def plant_azure(job: QueuedJob, damage: Damage) -> None:
            await plant_in_azure(connection, client_options, table, job, damage)

        harness = RepositoryHarness(
            kind,
            clock,
            lambda **o: AzureTableJobRepository.from_connection(
                connection, table=table, container=container, client_options=client_options, **o
            ),
            plant_azure,
            UNREADABLE,
        )
    yield harness
    for repository in {id(r): r for r in harness.opened}.values():
        await repository.close()
    await transports_closed(harness.kind)


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

        connection, client_options = _azure_connection(request, kind)
        harness = QueueHarness(
            kind,
            name,
            lambda: AzureQueueBroker.from_connection(connection, client_options=client_options),
            asyncio.sleep,
        )
    yield harness
    for broker in {id(b): b for b in harness.brokers}.values():
        await broker.close()
    await transports_closed(harness.kind)


FILE_ADAPTERS = [
    "memory",
    "local",
    pytest.param("azure", marks=pytest.mark.azurite),
    pytest.param("azure-identity", marks=pytest.mark.azurite),
]


@dataclass(frozen=True)
class Download:
    """What following a download link gave: the bytes, and the file name the response's
    ``Content-Disposition`` suggests (``None`` where no HTTP response is involved)."""

    data: bytes
    filename: str | None


class LinkRefused(AssertionError):
    """An HTTP download link was answered with something other than 200."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        super().__init__(f"the link was answered {status}: {body[:300]!r}")


@dataclass
class FileStoreHarness:
    """A created, empty container of a unique name, and how a user follows its links.

    ``clock`` drives the store. For memory and local it starts in 2030 and only moves when
    told to; for Azure it is a ManualClock set to the real time when the test began,
    because Azurite checks SAS expiry against the real clock.
    """

    kind: str
    store: FileStore
    clock: ManualClock
    _open: Callable[[str, ManualClock], FileStore]
    _download: Callable[[str], Awaitable[Download]]
    opened: list[FileStore] = field(default_factory=list)

    def open(self, container: str, *, clock: ManualClock | None = None) -> FileStore:
        """Another client (not created) on ``container`` of the same storage; closed at the
        end of the test."""
        store = self._open(container, clock or self.clock)
        self.opened.append(store)
        return store

    async def download(self, url: str) -> Download:
        """Follow a download link as a user would: an HTTP GET of the SAS URL on Azure;
        :meth:`resolve`, as the server answering the link does, for memory and local."""
        return await self._download(url)

    async def fetch(self, url: str, name: str) -> bytes:
        """The bytes a link to the file ``name`` downloads, checking that an HTTP answer
        offers them as an attachment under the file's own name."""
        got = await self.download(url)
        if got.filename is not None:
            assert got.filename == posixpath.basename(name)
        return got.data

    async def assert_refused(self, url: str) -> None:
        """Following ``url`` fails: ``InvalidDownloadLink`` from the store that resolves it,
        or 403 from Azure Storage."""
        if self.kind.startswith("azure"):
            with pytest.raises(LinkRefused) as refused:
                await self.download(url)
            assert refused.value.status == 403
        else:
            with pytest.raises(InvalidDownloadLink):
                await self.download(url)

    async def expired_link(self, name: str) -> DownloadLink:
        """A link to ``name`` whose expiry has passed.

        Memory and local: a 5-minute link, then the clock moves 5 minutes. Azure: Azurite
        knows only the real time, so the link comes from a second client whose clock is a
        day behind (a 1-hour link that ran out 23 hours ago).
        """
        lifetime = timedelta(minutes=5)
        if not self.kind.startswith("azure"):
            link = await self.store.download_link(name, expires_in=lifetime)
            self.clock.advance(lifetime)
            return link
        behind = self.open(
            self.store.container, clock=ManualClock(self.clock.now() - timedelta(days=1))
        )
        # The same client's links work while they last: a refusal is the expiry's doing.
        still_valid = await behind.download_link(name, expires_in=timedelta(days=2))
        await self.download(still_valid.url)
        link = await behind.download_link(name, expires_in=timedelta(hours=1))
        assert link.expires_at < datetime.now(UTC)
        return link


@pytest.fixture(params=FILE_ADAPTERS)
async def file_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[FileStoreHarness]:
    kind: str = request.param
    container = _unique("files-")
    closing: list[Callable[[], Awaitable[Any]]] = []
    open_store: Callable[[str, ManualClock], FileStore]
    download: Callable[[str], Awaitable[Download]]
    if kind == "memory":
        from queued_jobs.files.memory import MemoryFileStore

        clock = ManualClock()
        memory = MemoryFileStore(container, clock=clock)

        def open_store(name: str, clock: ManualClock) -> FileStore:
            return MemoryFileStore(name, clock=clock)

        async def download(url: str) -> Download:
            return Download(memory.resolve(url), None)

        store: FileStore = memory
    elif kind == "local":
        from queued_jobs.files.local import LocalFileStore

        clock = ManualClock()
        root = tmp_path / "files"
        local = LocalFileStore(root, container, clock=clock)

        def open_store(name: str, clock: ManualClock) -> FileStore:
            return LocalFileStore(root, name, clock=clock)

        async def download(url: str) -> Download:
            path = await asyncio.to_thread(local.resolve, url)
            return Download(await asyncio.to_thread(path.read_bytes), None)

        store = local
    else:
        import ssl

        import aiohttp
        from azure.storage.blob.aio import BlobServiceClient

        from queued_jobs.files.azure_blob import BlobFileStore

        connection, client_options = _azure_connection(request, kind)
        clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
        http = aiohttp.ClientSession()
        closing.append(http.close)
        verify = client_options.get("connection_verify")
        tls = ssl.create_default_context(cafile=verify) if verify else None
        keys: BlobServiceClient | None = None
        if connection.uses_identity:
            # Azurite derives a user delegation key from its fields alone: asking again for
            # a link's key period gives the key that signed it.
            keys = BlobServiceClient(
                connection.blob_service_uri or "", connection.credential, **client_options
            )
            closing.append(keys.close)

        def open_store(name: str, clock: ManualClock) -> FileStore:
            return BlobFileStore.from_connection(
                connection, name, clock=clock, client_options=client_options
            )

        async def download(url: str) -> Download:
            if keys is not None:
                query = parse_qs(urlsplit(url).query)
                period = [datetime.fromisoformat(query[k][0]) for k in ("skt", "ske")]
                url = signed_for_azurite(url, await keys.get_user_delegation_key(*period))
            async with http.get(url, ssl=tls if tls is not None else True) as response:
                body = await response.read()
                if response.status != 200:
                    raise LinkRefused(response.status, body)
                disposition = response.content_disposition
                assert disposition is not None, "no Content-Disposition header"
                assert disposition.type == "attachment"
                return Download(body, disposition.filename)

        store = open_store(container, clock)
    harness = FileStoreHarness(kind, store, clock, open_store, download)
    harness.opened.append(store)
    try:
        await store.create()
        yield harness
    finally:
        for opened in {id(s): s for s in harness.opened}.values():
            await opened.close()
        for close in closing:
            await close()
        await transports_closed(harness.kind)
