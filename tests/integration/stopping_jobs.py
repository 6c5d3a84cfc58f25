"""Jobs that do not stop when told to (or whose hooks try to end their worker), and the app a
subprocess worker loads to run them (``tests.integration.stopping_jobs:app``): ``tests.work``
and the jobs below, with a short ``stop_timeout``."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from datetime import timedelta

from pydantic import BaseModel

from queued_jobs.app import JobApp, Storage
from queued_jobs.context import JobContext
from queued_jobs.models import JobStatus, QueuedJob
from queued_jobs.runner import JobRunner
from tests.integration.jobs import build_app, record, storage_from_env

STOP_TIMEOUT = 1.0


class Run(BaseModel):
    #: Seconds to run, per attempt (the last value for later attempts).
    seconds: list[float] = [30.0]

    def of(self, context: JobContext) -> float:
        return self.seconds[min(context.attempt, len(self.seconds)) - 1]


def build_stopping_app(storage: Storage, *, lease: float = 2.0) -> JobApp:
    app = build_app(storage, lease=lease)
    app.settings = replace(app.settings, stop_timeout=timedelta(seconds=STOP_TIMEOUT))

    @app.job(name="tests.stubborn")
    async def stubborn(request: Run, context: JobContext) -> str:
        """Swallows every cancellation and runs its time out."""
        record("start", context)
        loop = asyncio.get_running_loop()
        ends = loop.time() + request.of(context)
        while loop.time() < ends:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                record("ignored-cancel", context)
        record("done", context)
        return "done"

    @app.job(name="tests.blocking")
    def blocking(request: Run, context: JobContext) -> str:
        """A plain ``def`` that never looks at ``cancellation_requested``."""
        record("start", context)
        time.sleep(request.of(context))
        record("done", context)
        return "done"

    @app.job(name="tests.cooperative")
    def cooperative(request: Run, context: JobContext) -> str:
        """A plain ``def`` that stops once told to."""
        record("start", context)
        ends = time.monotonic() + request.of(context)
        while time.monotonic() < ends:
            if context.cancellation_requested:
                record("stopped", context)
                return "stopped"
            time.sleep(0.02)
        record("done", context)
        return "done"

    @app.register
    class HostileHooks(JobRunner[Run, str]):
        """Its hooks try to end the worker: ``SystemExit`` when it is claimed,
        ``KeyboardInterrupt`` after its attempt."""

        job_type = "tests.hostile_hooks"

        async def on_execute(self, request: Run, context: JobContext) -> str:
            record("start", context)
            return "done"

        async def on_status_updated(self, job: QueuedJob) -> None:
            if job.status is JobStatus.RUNNING:
                raise SystemExit(7)

        async def after(self, context: JobContext) -> None:
            record("after", context)
            raise KeyboardInterrupt

    return app


if "QJ_TEST_EVENTS" in os.environ:  # loaded by a worker process
    app = build_stopping_app(storage_from_env(), lease=float(os.environ.get("QJ_TEST_LEASE", "2")))
