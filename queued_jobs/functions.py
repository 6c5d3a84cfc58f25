"""The Azure Functions host: a Blueprint with the queue triggers, poison triggers and sweep.

``function_app.py``::

    import azure.functions as func
    from queued_jobs.functions import job_blueprint
    from myapp.jobs import app          # a JobApp on AzureStorage.from_setting(...)

    function_app = func.FunctionApp()
    function_app.register_functions(job_blueprint(app))

Bindings read the queue names and the connection from app settings: the base queue name
from ``QUEUED_JOBS_QUEUE`` (``%QUEUED_JOBS_QUEUE%``, ``%QUEUED_JOBS_QUEUE%-high``, ...) and
the storage connection from the setting named by ``connection``. The host owns each trigger
message (it renews its lease and deletes it when the function returns), so the pipeline
never touches it: a retry or a not-yet message is sent anew with a delay, and the function
returns normally. A function that raises is retried by the host, and after
``maxDequeueCount`` deliveries the host moves the message to ``<queue>-poison``, where the
poison trigger fails its job with the reason. A body that is not a job message ends in
``<queue>-deadletter``, a queue nothing consumes, with its exact bytes, kept for inspection
(``queued-jobs dead-letters``).

``message_encoding`` must say what ``host.json``'s ``extensions.queues.messageEncoding``
says: under ``"none"`` (recommended, and the sample's) the Functions host hands over each
message as the queue holds it and this module decodes base64 as the queue adapter does,
so plain-text bodies from other producers are read too; under ``"base64"`` (the
extension's default) the Functions host decodes base64 first and moves any other body to
``-poison`` without calling a trigger. Either way a dead letter keeps the exact bytes.

The timer also fires the schedules due (:mod:`queued_jobs.schedules.firing`), with slots
up to a minute ahead (``FunctionsHost(schedule_horizon=...)``) fired early and their jobs
held until their time; the Functions host runs a timer on one instance at a time.

Each instance saves its presence (what ``GET /workers`` shows: its queues, the messages it
is handling and has handled) at most once a minute, from the triggers it runs anyway (a
queue message, the timer): a busy instance adds one write a minute, not one per job; an
idle one is seen when its timer fires (one instance a minute) or not at all. A save that
fails is logged and never fails the invocation.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

import azure.functions as func

from .app import JobApp
from .errors import JobNotFound, QueuedJobsError
from .execution.messages import UnreadableMessage, decode_message, encode_message
from .execution.pipeline import Disposition, Handled, Pipeline
from .execution.presence import FUNCTIONS_PRESENCE_EVERY, PresenceRecorder, detail_text
from .execution.sweep import Sweeper
from .execution.takeover import send_takeovers
from .fairness.share import OVERFLOW_SUFFIX
from .feed.consumer import FeedConsumer
from .limits.sweep import LimitSweeper
from .models import DetailValue, JobStatus, PresenceKind, Priority
from .queue_names import DEAD_LETTER_SUFFIX, dead_letters_of
from .queues.azure_queue import decoded_body
from .queues.base import MAX_DELAY, POISON_SUFFIX
from .schedules.firing import ScheduleFirer
from .sequences.sweep import SequenceSweeper
from .telemetry.logs import library_logger
from .telemetry.names import METRIC_DEAD_LETTERED

if TYPE_CHECKING:
    from .web.functions_http import FunctionsWebApi

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "QUEUE_SETTING",
    "FunctionsHost",
    "MessageEncoding",
    "job_blueprint",
]

log = library_logger("queued_jobs.functions")

#: The app setting holding the base queue name (the normal band's queue).
QUEUE_SETTING = "QUEUED_JOBS_QUEUE"
_BAND_SUFFIX = {Priority.HIGH: "-high", Priority.NORMAL: "", Priority.LOW: "-low"}
#: ``host.json``'s ``extensions.queues.messageEncoding``.
MessageEncoding = Literal["none", "base64"]


class FunctionsHost:
    """What the triggers call; opens the app's storage on first use (inside the host's
    event loop, where its connections must live)."""

    def __init__(
        self,
        app: JobApp,
        *,
        max_dequeue_count: int = 5,
        message_encoding: MessageEncoding = "none",
        schedule_horizon: timedelta = timedelta(minutes=1),
    ) -> None:
        """``schedule_horizon``: how far ahead the timer fires schedules' slots (their jobs
        held until their time): the timer's period, so that each slot runs on time."""
        if message_encoding not in ("none", "base64"):
            raise ValueError(
                f"message_encoding must be 'none' or 'base64', not {message_encoding!r}"
            )
        self.app = app
        self.max_dequeue_count = max_dequeue_count
        self.message_encoding = message_encoding
        self._pipeline: Pipeline | None = None
        self._sweeper: Sweeper | None = None
        self._firer: ScheduleFirer | None = None
        self._sequences: SequenceSweeper | None = None
        self._limit_sweeper: LimitSweeper | None = None
        self.schedule_horizon = schedule_horizon
        self._feed: list[FeedConsumer] | None = None
        self._presence: PresenceRecorder | None = None
        #: Job messages being handled now, and handled since the instance started.
        self._handling = 0
        self._handled = 0

    @property
    def pipeline(self) -> Pipeline:
        if self._pipeline is None:
            identity = (
                f"{os.environ.get('WEBSITE_INSTANCE_ID', socket.gethostname())}:{os.getpid()}"
            )
            self._pipeline = self.app.pipeline(identity=identity)
            # The queues' depths, read only when a metrics reader collects.
            self._pipeline.telemetry.metrics.watch_depth(self._depths)
        return self._pipeline

    async def _depths(self) -> dict[str, int]:
        """How many messages each of the app's queues holds."""
        names = [self.app.queues.for_priority(band) for band in Priority]
        if self.app.settings.owner_share is not None:
            names.append(self.app.queues.overflow)
        broker = self.pipeline.broker
        found = await asyncio.gather(*(broker.queue(name).depth() for name in names))
        return dict(zip(names, found, strict=True))

    @property
    def sweeper(self) -> Sweeper:
        if self._sweeper is None:
            pipeline = self.pipeline
            self._sweeper = Sweeper(
                pipeline.repository,
                pipeline.broker,
                clock=self.app.clock,
                settings=self.app.settings,
                admission=pipeline.admission,
            )
        return self._sweeper

    @property
    def firer(self) -> ScheduleFirer:
        if self._firer is None:
            pipeline = self.pipeline
            self._firer = ScheduleFirer(
                self.app.client_on(pipeline), horizon=self.schedule_horizon, holder=pipeline.host
            )
        return self._firer

    @property
    def sequence_sweeper(self) -> SequenceSweeper:
        if self._sequences is None:
            pipeline = self.pipeline
            self._sequences = SequenceSweeper(self.app.client_on(pipeline), holder=pipeline.host)
        return self._sequences

    @property
    def presence(self) -> PresenceRecorder:
        """This instance's presence, saved at most once per
        :data:`~queued_jobs.execution.presence.FUNCTIONS_PRESENCE_EVERY`."""
        if self._presence is None:
            pipeline = self.pipeline
            self._presence = PresenceRecorder(
                pipeline.repository,
                host=pipeline.host,
                kind=PresenceKind.FUNCTIONS,
                every=FUNCTIONS_PRESENCE_EVERY,
                clock=self.app.clock,
            )
        return self._presence

    async def _seen(self) -> None:
        """Save this instance's presence if a minute has passed; never raises."""
        try:
            presence = self.presence
        except Exception as exc:  # storage that cannot be opened: the trigger says so
            log.warning("this instance's presence was not saved: %s", exc)
            return
        await presence.save_if_due(self._details)

    def _details(self) -> dict[str, DetailValue]:
        return {
            "queues": detail_text(",".join(self.app.queues.bands)),
            "running": self._handling,
            "finished": self._handled,
        }

    def _consumers(self) -> list[FeedConsumer]:
        if self._feed is None:
            pipeline = self.pipeline
            client = self.app.client_on(pipeline)
            self._feed = self.app.feed_consumers(client, holder=pipeline.host)
        return self._feed

    async def handle(self, message: func.QueueMessage, queue: str) -> Handled:
        """A job message from ``queue``; raises to have the host deliver it again."""
        seen = asyncio.create_task(self._seen())  # beside the job, never in its way
        self._handling += 1
        try:
            return await self._handle(message, queue)
        finally:
            self._handling -= 1
            self._handled += 1
            await seen

    async def _handle(self, message: func.QueueMessage, queue: str) -> Handled:
        body, wire = self._read(message)
        if body is None:
            return await self._keep_dead(wire, queue, "not UTF-8 text")
        try:
            # The host may run any jobs beside this one in this instance: a job taken over
            # from a dead worker is spread (sent again with a random delay), not run here.
            handled = await self.pipeline.handle(body, spread_suspects=True)
        except Exception:
            deliveries = message.dequeue_count or 1
            if deliveries >= self.max_dequeue_count:
                reason = f"failed on each of {deliveries} deliveries; the last error is logged"
                log.exception("message %s on %s: giving up", message.id, queue)
                return await self._fail_poisoned(body, wire, queue, reason)
            raise
        await self._settle(wire, queue, handled)
        return handled

    async def handle_poison(self, message: func.QueueMessage, queue: str) -> Handled:
        """A message the host gave up on (``queue`` is the poison queue).

        A body that is no job message goes to the band's ``-deadletter`` queue, bytes
        unchanged. A plain-text job message whose job never started (the host moved it
        here without running it, as a ``base64`` host does with any plain body) is sent
        again, encoded, so that its job runs. Any other job message fails its job.
        """
        band = queue.removesuffix(POISON_SUFFIX)
        body, wire = self._read(message)
        if body is None:
            return await self._keep_dead(wire, band, "not UTF-8 text")
        if body == wire and await self._never_started(body):
            await self.pipeline.broker.queue(band).send(body)
            log.warning(
                "message %s on %s: plain text of a job that never ran; re-sent encoded",
                message.id,
                queue,
            )
            return Handled(Disposition.ACK, reason="re-sent encoded")
        reason = f"moved to {queue} after {self.max_dequeue_count} failed deliveries"
        return await self._fail_poisoned(body, wire, band, reason)

    async def _limit_sweep(self) -> None:
        if self._limit_sweeper is None:
            pipeline, app = self.pipeline, self.app
            self._limit_sweeper = LimitSweeper(
                pipeline.limits,
                app.registry,
                clock=app.clock,
                share=app.settings.owner_share is not None,
            )
        if self._limit_sweeper.needed:
            await self._limit_sweeper.sweep()

    async def sweep(self) -> None:
        """The timer's work: fire the schedules due, settle the sequences a crash left,
        sweep, run the feed consumers and send the jobs of dead instances to be taken
        over."""
        await self._seen()
        for what, work in (
            ("schedules: a firing pass", self.firer.fire_due),
            ("sequences: a sweep", self.sequence_sweeper.sweep),
            ("limits: a sweep", self._limit_sweep),
        ):
            try:
                await work()
            except Exception as exc:  # the sweep goes on; the next timer does it again
                log.warning(
                    "%s failed: %s", what, exc, exc_info=not isinstance(exc, QueuedJobsError)
                )
        await self.sweeper.sweep()
        for consumer in self._consumers():  # webhooks and the like: a pass per sweep
            try:
                await consumer.run_once()
            except Exception as exc:  # the sweep goes on, and so does the next consumer
                log.warning(
                    "feed consumer %s: a pass failed: %s",
                    consumer.name,
                    exc,
                    exc_info=not isinstance(exc, QueuedJobsError),
                )
        # A dead instance's job would wait for its message behind any backlog: the most
        # urgent band's trigger takes it over (spread like every job taken over) first.
        pipeline = self.pipeline
        await send_takeovers(
            pipeline.repository,
            pipeline.broker,
            now=self.app.clock.now(),
            queues=self.app.queues.bands,
            to=self.app.queues.for_priority(Priority.HIGH),
        )

    async def close(self) -> None:
        """Close the connections opened so far (the host process normally keeps them)."""
        if self._pipeline is not None:
            await self._pipeline.settle()
            await self._pipeline.repository.close()
            await self._pipeline.broker.close()
            self._pipeline = self._sweeper = self._firer = self._sequences = None
            self._limit_sweeper = None

    def _read(self, message: func.QueueMessage) -> tuple[str | None, str]:
        """The message's text (``None``: its bytes are not UTF-8) and its wire form, the
        text the queue held: base64 of the bytes under ``base64``, the text itself under
        ``none``. Base64 of UTF-8 is decoded here as the queue adapter decodes it."""
        data = message.get_body()
        try:
            text: str | None = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None or self.message_encoding == "base64":
            wire = base64.b64encode(data).decode("ascii")
        else:
            wire = text
        return (None if text is None else decoded_body(text)), wire

    async def _never_started(self, body: str) -> bool:
        try:
            job_id = decode_message(body).job_id
            job = await self.pipeline.repository.get(job_id)
        except (UnreadableMessage, JobNotFound):
            return False
        return job.status is JobStatus.QUEUED and job.attempts == 0

    async def _fail_poisoned(self, body: str, wire: str, band: str, reason: str) -> Handled:
        handled = await self.pipeline.fail_poisoned(body, reason)
        if handled.disposition is Disposition.DEAD_LETTER:
            await self._keep_dead(wire, band, handled.reason)
        return handled

    async def _settle(self, wire: str, queue: str, handled: Handled) -> None:
        if handled.disposition is Disposition.DEAD_LETTER:
            await self._keep_dead(wire, queue, handled.reason)
        elif handled.disposition is Disposition.RETRY_LATER and handled.job is not None:
            delay = min(handled.delay, MAX_DELAY)
            await self.pipeline.broker.queue(queue).send(
                encode_message(handled.job, await self.pipeline.repository.message_key()),
                delay=delay,
            )

    async def _keep_dead(self, wire: str, band: str, reason: str) -> Handled:
        """Keep the wire form in the band's dead-letter queue: one request (``create()``
        made the queue)."""
        dead = self.pipeline.broker.queue(dead_letters_of(band))
        await dead.send_wire(wire)
        self.pipeline.telemetry.metrics.count(METRIC_DEAD_LETTERED, None, band)
        log.error("an unreadable message from %s was kept in %s (%s)", band, dead.name, reason)
        return Handled(Disposition.DEAD_LETTER, reason=reason)


def _queue_binding(priority: Priority) -> str:
    return f"%{QUEUE_SETTING}%{_BAND_SUFFIX[priority]}"


def job_blueprint(
    app: JobApp,
    *,
    connection: str = "AzureWebJobsStorage",
    prefix: str = "queued_jobs",
    sweep_schedule: str = "0 */1 * * * *",
    max_dequeue_count: int = 5,
    message_encoding: MessageEncoding = "none",
    host: FunctionsHost | None = None,
    http_api: FunctionsWebApi | None = None,
    http_route: str = "",
) -> func.Blueprint:
    """Functions for every priority band (trigger + poison trigger) and the timer sweep.

    ``connection`` names the app setting of the storage connection (as bindings expect);
    ``max_dequeue_count`` and ``message_encoding`` must match ``host.json``'s
    ``extensions.queues.maxDequeueCount`` and ``messageEncoding``.
    Function names start with ``prefix`` so that several blueprints can share an app.
    ``host`` is for tests that need to close the connections the functions open.

    With ``http_api`` (a :class:`queued_jobs.web.functions_http.FunctionsWebApi`, which
    needs the ``web`` extra) one more function, an HTTP trigger on every path under
    ``http_route``, serves the web API. Its level is anonymous: the API authenticates
    every request itself, and no route of it is open.
    """
    host = host or FunctionsHost(
        app, max_dequeue_count=max_dequeue_count, message_encoding=message_encoding
    )
    blueprint = func.Blueprint()  # type: ignore[no-untyped-call]  # unannotated in the SDK
    for priority in Priority:
        _register_queue(
            blueprint,
            host,
            name=f"{prefix}_{priority.value}",
            binding=_queue_binding(priority),
            queue=app.queues.for_priority(priority),
            connection=connection,
        )
    if app.settings.owner_share is not None:  # owners' jobs beyond their share
        _register_queue(
            blueprint,
            host,
            name=f"{prefix}_overflow",
            binding=f"%{QUEUE_SETTING}%{OVERFLOW_SUFFIX}",
            queue=app.queues.overflow,
            connection=connection,
        )

    if http_api is not None:
        _register_http(blueprint, http_api, http_route, prefix)

    @blueprint.function_name(f"{prefix}_sweep")
    @blueprint.timer_trigger(arg_name="timer", schedule=sweep_schedule, run_on_startup=False)
    async def sweep(timer: func.TimerRequest) -> None:
        await host.sweep()

    return blueprint


def _register_http(blueprint: func.Blueprint, api: FunctionsWebApi, base: str, prefix: str) -> None:
    base = base.strip("/")
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    route = f"{base}/{{*route}}" if base else "{*route}"
    if api.streaming:
        from .web.functions_streaming import register_streaming_http

        register_streaming_http(blueprint, api, route, f"{prefix}_http", methods)
        return

    @blueprint.function_name(f"{prefix}_http")
    @blueprint.route(route=route, methods=methods, auth_level=func.AuthLevel.ANONYMOUS)
    async def http(request: func.HttpRequest, context: func.Context) -> func.HttpResponse:
        return await api.handle(request, context)


def _register_queue(
    blueprint: func.Blueprint,
    host: FunctionsHost,
    *,
    name: str,
    binding: str,
    queue: str,
    connection: str,
) -> None:
    """The trigger of one job queue (``binding``, the app setting form of ``queue``) and
    of its poison queue."""

    @blueprint.function_name(name)
    @blueprint.queue_trigger(arg_name="message", queue_name=binding, connection=connection)
    async def run(message: func.QueueMessage) -> None:
        await host.handle(message, queue)

    @blueprint.function_name(f"{name}_poison")
    @blueprint.queue_trigger(
        arg_name="message", queue_name=f"{binding}{POISON_SUFFIX}", connection=connection
    )
    async def poison(message: func.QueueMessage) -> None:
        await host.handle_poison(message, queue + POISON_SUFFIX)
