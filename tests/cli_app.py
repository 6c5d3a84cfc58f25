"""Apps for the command-line tests, loaded by import path (``tests.cli_app:app``).

``app`` opens the SQLite file named by ``QJ_CLI_DB`` each time it opens its storage, so
that every test gets its own database although the module is imported once.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from queued_jobs import (
    AzureStorage,
    Clock,
    ExecutionSettings,
    JobApp,
    JobContext,
    JobRunner,
    OwnerShare,
    PermanentError,
    SqliteStorage,
)
from queued_jobs.limits import ConcurrencyLimit, RateLimit, by_request
from queued_jobs.queues import QueueBroker
from queued_jobs.repositories import JobRepository

# Azurite's published development key (not a secret), with every endpoint on a closed port.
_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
_SERVICES = ("Table", "Queue", "Blob")
UNREACHABLE = (
    f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={_KEY};"
    + "".join(f"{kind}Endpoint=http://127.0.0.1:9/devstoreaccount1;" for kind in _SERVICES)
)


@dataclass(frozen=True)
class EnvSqliteStorage:
    """SQLite at the path in ``QJ_CLI_DB``, read when the storage is opened."""

    def open(self, clock: Clock) -> tuple[JobRepository, QueueBroker]:
        return SqliteStorage(os.environ["QJ_CLI_DB"]).open(clock)


class Greeting(BaseModel):
    name: str


app = JobApp(EnvSqliteStorage())


@app.register
class Greet(JobRunner[Greeting, str]):
    job_type = "greet"

    async def on_execute(self, request: Greeting, context: JobContext) -> str:
        await context.report_progress(40, "thinking [hard]")
        await asyncio.sleep(0.3)
        return f"Hello, {request.name}!"


@app.job(name="explode", max_attempts=1)
async def explode(request: Greeting) -> None:
    raise PermanentError(f"{request.name} cannot be greeted")


@app.job(name="anyreq")
async def anyreq(request: Any) -> Any:
    return request


@app.job(name="mimic", max_attempts=1)
async def mimic(request: str, context: JobContext) -> None:
    """Reports its request as its progress, then fails with it as its error."""
    await context.report_progress(50, request)
    raise PermanentError(request)


class Chatter(BaseModel):
    #: How many lines it prints: ``chatter 0``, ``chatter 1``...
    lines: int = 3
    #: Seconds after each line.
    pause: float = 0.0
    #: Printed before the lines, as it is (cleaned as all output is).
    first: str = ""
    #: Fails once it has printed its lines.
    fails: bool = False


@app.job(name="chatter", max_attempts=1)
async def chatter(request: Chatter, context: JobContext) -> int:
    """Prints its lines as a program would, a pause after each."""
    if request.first:
        await context.append_output(request.first)
    for n in range(request.lines):
        await context.append_output(f"chatter {n}\n")
        await asyncio.sleep(request.pause)
    if request.fails:
        raise PermanentError("chatter gave up")
    return request.lines


unreachable = JobApp(AzureStorage(UNREACHABLE))
#: The same SQLite file, with an owner share (an overflow queue).
shared = JobApp(EnvSqliteStorage(), settings=ExecutionSettings(owner_share=OwnerShare(2)))


#: The same storage, with job types that pass limits (``queued-jobs --app tests.cli_app:limited``).
limited = JobApp(EnvSqliteStorage())
EXPORTS = ConcurrencyLimit("exports", 2, key=by_request("customer"))
CALLS = RateLimit("calls", 10, per=timedelta(seconds=1))


class Export(BaseModel):
    customer: str


@limited.job(name="export", limits=[EXPORTS])
async def export(request: Export) -> str:
    return request.customer


@limited.job(name="call", limits=[CALLS])
async def call(request: Any) -> None:
    return None
