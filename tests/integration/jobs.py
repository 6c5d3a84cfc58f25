"""Jobs the integration tests run, and the app a subprocess worker loads.

Side effects are appended to the file named by ``QJ_TEST_EVENTS`` (one line per event), so a
test can count what really ran, even in a worker process it killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel

from queued_jobs.app import AzureStorage, JobApp, SqliteStorage, Storage
from queued_jobs.clock import SYSTEM_CLOCK, Clock
from queued_jobs.context import JobContext
from queued_jobs.errors import PermanentError
from queued_jobs.execution.settings import ExecutionSettings
from queued_jobs.queue_names import QueueNames
from queued_jobs.retry import RetryPolicy
from tests.integration.command_jobs import add_commands

FAST_RETRY = RetryPolicy(first=timedelta(seconds=1), factor=2, jitter=0)


def record(event: str, context: JobContext) -> None:
    path = os.environ["QJ_TEST_EVENTS"]
    with Path(path).open("a") as events:
        events.write(f"{event} {context.job.id} {context.attempt}\n")


def events(path: Path, event: str, job_id: str) -> list[int]:
    """The attempt numbers at which ``event`` happened for ``job_id``."""
    if not path.exists():
        return []
    lines = [line.split() for line in path.read_text().splitlines()]
    return [int(a) for e, j, a in lines if e == event and j == job_id]


class Work(BaseModel):
    #: Seconds to sleep, per attempt (the last value for later attempts).
    sleeps: list[float] = [0.0]
    #: Attempts that raise before succeeding.
    failures: int = 0
    permanent: bool = False


class Printing(BaseModel):
    #: What the job prints, one after the other.
    lines: list[str] = []
    #: Then this many lines of its own: ``numbered line 00000``, ``numbered line 00001``...
    numbered: int = 0
    #: Seconds after each line.
    pause: float = 0.0


class Crash(BaseModel):
    #: Seconds to wait before killing the worker process the job runs in.
    after: float = 0.0


def build_app(storage: Storage, *, clock: Clock = SYSTEM_CLOCK, lease: float = 2.0) -> JobApp:
    settings = ExecutionSettings(
        lease=timedelta(seconds=lease),
        heartbeat=timedelta(seconds=lease / 4),
        progress_interval=timedelta(milliseconds=100),
        retry=FAST_RETRY,
        resend_after=timedelta(minutes=10),
    )
    app = JobApp(
        storage,
        clock=clock,
        settings=settings,
        queues=QueueNames(os.environ.get("QJ_TEST_QUEUE", "jobs")),
    )

    @app.job(name="tests.work")
    async def work(request: Work, context: JobContext) -> dict[str, int]:
        record("start", context)
        pause = request.sleeps[min(context.attempt, len(request.sleeps)) - 1]
        waited = 0.0
        while waited < pause:
            await asyncio.sleep(0.05)
            waited += 0.05
            await context.report_progress(min(99.0, 100 * waited / pause))
        if request.permanent:
            raise PermanentError("this input can never work")
        if context.attempt <= request.failures:
            record("fail", context)
            raise RuntimeError(f"attempt {context.attempt} failed on purpose")
        record("done", context)
        return {"attempt": context.attempt}

    @app.job(name="tests.print")
    async def printing(request: Printing, context: JobContext) -> int:
        """Prints its lines (its output, as a program's would be), a pause after each."""
        own = [f"numbered line {n:05d}\n" for n in range(request.numbered)]
        for line in [*request.lines, *own]:
            await context.append_output(line)
            await asyncio.sleep(request.pause)
        return len(request.lines) + len(own)

    @app.job(name="tests.crash")
    async def crash(request: Crash, context: JobContext) -> None:
        """Kills the worker it runs in (SIGKILL), on every attempt."""
        record("start", context)
        await asyncio.sleep(request.after)
        os.kill(os.getpid(), signal.SIGKILL)

    add_commands(app)
    return app


def storage_from_env() -> Storage:
    if "QJ_TEST_AZURE" in os.environ:
        return AzureStorage(
            os.environ["QJ_TEST_AZURE"],
            table=os.environ["QJ_TEST_TABLE"],
            container=os.environ["QJ_TEST_CONTAINER"],
        )
    return SqliteStorage(os.environ["QJ_TEST_SQLITE"])


if "QJ_TEST_EVENTS" in os.environ:  # loaded by a worker process
    app = build_app(storage_from_env(), lease=float(os.environ.get("QJ_TEST_LEASE", "2")))
