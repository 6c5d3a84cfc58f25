"""An application's job setup in one object: where jobs are stored, which job types exist,
how they run. Hosts (the worker command, the Functions blueprint) take it by import path::

    app = JobApp(SqliteStorage("jobs.db"))

    @app.job(name="zips.build")
    async def build_zip(request: ZipRequest, context: JobContext) -> ZipResult: ...

    python -m queued_jobs worker myapp.jobs:app
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ._azure.connection import StorageConnection
from ._azure.credentials import unusable_connection_error
from ._private import PRIVATE_DIRECTORY, PRIVATE_FILE
from .client import JobClient
from .clock import SYSTEM_CLOCK, Clock
from .errors import ConfigurationError
from .execution.pipeline import Pipeline, StatusListener
from .execution.settings import ExecutionSettings
from .execution.sweep import Sweeper
from .feed.consumer import ChangeHandler, FeedConsumer
from .files.base import FileStore
from .files.local import DEFAULT_FILES_URL
from .limits.sweep import LimitSweeper
from .models import Priority
from .queue_names import QueueNames
from .queues.base import QueueBroker
from .repositories.base import JobRepository
from .runner import JobRegistry
from .schedules.firing import ScheduleFirer
from .sequences.engine import SequenceEngine
from .sequences.listener import SequenceListener
from .sequences.sweep import SequenceSweeper
from .telemetry.logs import library_logger
from .worker import Worker, WorkerSettings
from .worker.background import Periodic

__all__ = [
    "AzureStorage",
    "FeedHandlerFactory",
    "JobApp",
    "MemoryStorage",
    "SqliteStorage",
    "Storage",
    "load_app",
]

#: Makes a feed consumer's handler from a client on the host's connections.
FeedHandlerFactory = Callable[[JobClient], ChangeHandler]

log = library_logger("queued_jobs.settings")


class Storage(Protocol):
    """Where an application's jobs and queues live."""

    def open(self, clock: Clock) -> tuple[JobRepository, QueueBroker]:
        """A repository and a queue broker; the caller closes both."""
        ...

    def files(self, container: str, *, clock: Clock = SYSTEM_CLOCK) -> FileStore:
        """The file container ``container`` next to the jobs (for jobs' inputs and
        outputs); the caller closes it."""
        ...


@dataclass(frozen=True)
class SqliteStorage:
    """The embedded default: one SQLite file for jobs and queues; files in a directory next
    to it (``files_root``, default the database's name with ``.files``), with download
    links to ``files_url``.

    The database file is created with ``file_mode`` (less the umask; by default 0600: it
    holds jobs' requests, results and signed links, so only its owner may read it), as are
    SQLite's write-ahead log and shared-memory files, and stored files; folders it creates get
    ``directory_mode`` (0700). A file or folder that exists keeps its mode. Looser modes let
    a file server running as another user serve the files (``0o640``/``0o750`` and a shared
    group, say)."""

    path: str | Path = "queued-jobs.db"
    files_root: str | Path | None = None
    files_url: str = DEFAULT_FILES_URL
    file_mode: int = PRIVATE_FILE
    directory_mode: int = PRIVATE_DIRECTORY

    def open(self, clock: Clock) -> tuple[JobRepository, QueueBroker]:
        from .queues.sqlite import SqliteQueueBroker
        from .repositories.sqlite import SqliteJobRepository

        return SqliteJobRepository(
            self.path, clock=clock, file_mode=self.file_mode
        ), SqliteQueueBroker(self.path, clock=clock, file_mode=self.file_mode)

    def files(self, container: str, *, clock: Clock = SYSTEM_CLOCK) -> FileStore:
        from .files.local import LocalFileStore

        root = self.files_root or Path(self.path).with_suffix(".files")
        return LocalFileStore(
            root,
            container,
            base_url=self.files_url,
            clock=clock,
            file_mode=self.file_mode,
            directory_mode=self.directory_mode,
        )


@dataclass(frozen=True)
class AzureStorage:
    """Azure Table Storage for jobs, Azure Storage queues for messages, blobs for large
    payloads and files.

    ``connection`` is a connection string (``"UseDevelopmentStorage=true"`` for Azurite)
    or a :class:`StorageConnection` (service URIs with a Microsoft Entra credential);
    :meth:`from_setting` reads either from app settings. ``client_options`` go to every
    Azure SDK client it builds, e.g. ``{"retry_total": 2}`` to give up on an unreachable
    account sooner, or ``{"raw_request_hook": hook}`` to see every request."""

    connection: StorageConnection | str
    table: str = "jobs"
    container: str = "job-payloads"
    client_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "connection", StorageConnection.of(self.connection))

    @classmethod
    def from_setting(
        cls,
        setting: str = "AzureWebJobsStorage",
        *,
        table: str = "jobs",
        container: str = "job-payloads",
        environ: Mapping[str, str] | None = None,
    ) -> AzureStorage:
        """The storage of the connection named ``setting`` in app settings (environment
        variables), read as the Functions host reads it: the connection string in
        ``setting``, or the identity-based settings ``<setting>__queueServiceUri``,
        ``__tableServiceUri``, ``__blobServiceUri``, ``__credential``, ``__clientId`` (see
        :meth:`StorageConnection.from_settings`).

        Settings that cannot work (contradictory, incomplete) are logged as an error here
        and raise :class:`ConfigurationError` at first use instead (:meth:`open`, and any
        request of a file store made before): the Functions host imports the app to index
        its functions, and an exception at import would leave none indexed, the poison
        triggers included."""
        try:
            connection = StorageConnection.from_settings(setting, environ=environ)
        except ConfigurationError as problem:
            log.error("the storage connection %r cannot be used: %s", setting, problem)
            connection = StorageConnection.unusable(str(problem))
        return cls(connection, table=table, container=container)

    @property
    def _connection(self) -> StorageConnection:
        assert isinstance(self.connection, StorageConnection)  # made so by __post_init__
        return self.connection

    def open(self, clock: Clock) -> tuple[JobRepository, QueueBroker]:
        from .queues.azure_queue import AzureQueueBroker
        from .repositories.azure_table import AzureTableJobRepository

        recipe = self._connection.recipe
        if recipe.kind == "unusable":  # settings that cannot work: a host's first use fails
            raise unusable_connection_error(recipe.problem or "")

        repository = AzureTableJobRepository.from_connection(
            self._connection,
            table=self.table,
            container=self.container,
            clock=clock,
            client_options=self.client_options,
        )
        broker = AzureQueueBroker.from_connection(
            self._connection, client_options=self.client_options
        )
        return repository, broker

    def files(self, container: str, *, clock: Clock = SYSTEM_CLOCK) -> FileStore:
        from .files.azure_blob import BlobFileStore

        return BlobFileStore.from_connection(
            self._connection, container, clock=clock, client_options=self.client_options
        )


@dataclass
class MemoryStorage:
    """In-process storage for tests: every ``open`` shares the same jobs and queues."""

    _shared: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    _files: dict[str, Any] = field(default_factory=dict)

    def open(self, clock: Clock) -> tuple[JobRepository, QueueBroker]:
        from .queues.memory import MemoryQueueBroker
        from .repositories.memory import MemoryJobRepository

        key = id(clock)
        if key not in self._shared:
            self._shared[key] = (
                MemoryJobRepository(clock=clock),
                MemoryQueueBroker(clock=clock),
            )
        return self._shared[key]

    def files(self, container: str, *, clock: Clock = SYSTEM_CLOCK) -> FileStore:
        from .files.memory import MemoryFileStore

        if container not in self._files:  # one store per container, on the first clock given
            self._files[container] = MemoryFileStore(container, clock=clock)
        store: FileStore = self._files[container]
        return store


class JobApp:
    """Storage, job types, queue names and execution settings of one application."""

    def __init__(
        self,
        storage: Storage,
        *,
        registry: JobRegistry | None = None,
        queues: QueueNames | None = None,
        settings: ExecutionSettings | None = None,
        clock: Clock = SYSTEM_CLOCK,
        listeners: list[StatusListener] | None = None,
    ) -> None:
        self.storage = storage
        self.registry = registry or JobRegistry()
        self.queues = queues or QueueNames()
        self.settings = settings or ExecutionSettings()
        self.clock = clock
        self.listeners = list(listeners or [])
        self.job = self.registry.job
        self.register = self.registry.register
        self.add = self.registry.add
        self._feed_handlers: dict[str, FeedHandlerFactory] = {}

    def consume_feed(self, name: str, handler: FeedHandlerFactory) -> None:
        """Have every host of the app (the worker, the Functions sweep, ``serve``) hand
        each change of the change feed to the handler ``handler(client)`` makes, once, by
        one process at a time (a :class:`~queued_jobs.feed.consumer.FeedConsumer` named
        ``name``). What webhooks and the Web PubSub publisher use."""
        if name in self._feed_handlers:
            raise ConfigurationError(f"a feed consumer named {name!r} is already added")
        self._feed_handlers[name] = handler

    def feed_consumers(self, client: JobClient, *, holder: str) -> list[FeedConsumer]:
        """The app's feed consumers, handing changes over through ``client``."""
        return [
            FeedConsumer(client.repository, name, make(client), holder=holder, clock=self.clock)
            for name, make in self._feed_handlers.items()
        ]

    def client(self, *, inline: bool = False) -> JobClient:
        """A client on its own connections; close it (or use ``async with``)."""
        repository, broker = self.storage.open(self.clock)
        return JobClient(
            repository,
            broker,
            self.registry,
            queues=self.queues,
            clock=self.clock,
            settings=self.settings,
            inline=inline,
        )

    def files(self, container: str) -> FileStore:
        """The storage's file container ``container`` (create it with ``create()``; close
        it when done)."""
        return self.storage.files(container, clock=self.clock)

    def pipeline(self, *, identity: str | None = None) -> Pipeline:
        """The execution pipeline on its own connections (its repository and broker are
        the caller's to close), for a host named ``identity`` (default ``host:pid``)."""
        repository, broker = self.storage.open(self.clock)
        client = JobClient(
            repository,
            broker,
            self.registry,
            queues=self.queues,
            clock=self.clock,
            settings=self.settings,
        )
        # Sequences advance as their jobs end (``sequences/listener.py``).
        sequences = SequenceListener(SequenceEngine(client))
        return Pipeline(
            repository,
            broker,
            self.registry,
            host=identity or f"{socket.gethostname()}:{os.getpid()}",
            clock=self.clock,
            settings=self.settings,
            listeners=[*self.listeners, sequences],
            queues=self.queues,
        )

    def worker(
        self, settings: WorkerSettings | None = None, *, identity: str | None = None
    ) -> Worker:
        """A worker on its own connections, draining the app's queues of every band, or of
        the bands ``settings.bands`` names."""
        pipeline = self.pipeline(identity=identity)
        sweeper = Sweeper(
            pipeline.repository,
            pipeline.broker,
            clock=self.clock,
            settings=self.settings,
            admission=pipeline.admission,
        )
        chosen = settings.bands if settings is not None else frozenset()
        queues = [
            pipeline.broker.queue(self.queues.for_priority(band))
            for band in (Priority.HIGH, Priority.NORMAL, Priority.LOW)
            if not chosen or band in chosen
        ]
        if self.settings.owner_share is not None and (not chosen or Priority.LOW in chosen):
            # drained after the bands (and first every few fetches: ``Bands``)
            queues.append(pipeline.broker.queue(self.queues.overflow))
        client = self.client_on(pipeline)
        consumers = self.feed_consumers(client, holder=pipeline.host)
        periodic = []
        every = (settings or WorkerSettings()).schedule_interval
        if every is not None:
            firer = ScheduleFirer(client, horizon=every, holder=pipeline.host)
            periodic.append(Periodic("the schedule firing", firer.fire_due, every))
        limit_every = (settings or WorkerSettings()).limit_sweep_interval
        limits = LimitSweeper(
            pipeline.limits,
            self.registry,
            clock=self.clock,
            share=self.settings.owner_share is not None,
        )
        if limit_every is not None and limits.needed:
            periodic.append(Periodic("the limits' sweep", limits.sweep, limit_every))
        sweep_every = (settings or WorkerSettings()).sweep_interval
        if sweep_every is not None:
            sequences = SequenceSweeper(client, holder=pipeline.host)
            periodic.append(Periodic("the sequence sweep", sequences.sweep, sweep_every))
        return Worker(
            pipeline,
            queues,
            settings=settings,
            sweeper=sweeper,
            consumers=consumers,
            periodic=periodic,
        )

    def client_on(self, pipeline: Pipeline) -> JobClient:
        """A client on a pipeline's connections (closed with them, not by itself)."""
        return JobClient(
            pipeline.repository,
            pipeline.broker,
            self.registry,
            queues=self.queues,
            clock=self.clock,
            settings=self.settings,
        )


def load_app(path: str) -> JobApp:
    """The :class:`JobApp` at ``module:attribute`` (``module`` alone means ``module:app``)."""
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"cannot import {module_name!r} to find the app: {exc}") from exc
    except ConfigurationError as exc:  # e.g. storage settings checked as the app is made
        raise ConfigurationError(f"{module_name!r} cannot make its app: {exc}") from exc
    app = getattr(module, attribute or "app", None)
    if not isinstance(app, JobApp):
        raise ConfigurationError(f"{path!r} is not a JobApp (found {type(app).__name__})")
    return app
