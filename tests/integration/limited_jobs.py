"""Job types with limits, and the app a subprocess worker loads to run them
(``tests.integration.limited_jobs:app``): ``tests.work`` and the jobs below.

Each job records when it started and ended (wall-clock nanoseconds, the same clock in
every process of the machine) inside its places, so a test sees from the events how many
ever ran at once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel

from queued_jobs.app import JobApp, Storage
from queued_jobs.context import JobContext
from queued_jobs.limits import ConcurrencyLimit, RateLimit, by_request
from tests.integration.jobs import build_app, storage_from_env

THREE = ConcurrencyLimit("three", 3)
ONE_PER_KEY = ConcurrencyLimit("one-per-key", 1, key=by_request("key"))
RATE = RateLimit("four-per-2s", 4, per=timedelta(seconds=2))


class Timed(BaseModel):
    seconds: float = 0.0
    #: Kill the worker (SIGKILL) on the first attempt, after ``seconds``.
    kill_first: bool = False
    key: str = ""


def stamp(event: str, context: JobContext) -> None:
    with Path(os.environ["QJ_TEST_EVENTS"]).open("a") as events:
        events.write(f"{event} {context.job.id} {context.attempt} {time.time_ns()}\n")


def stamps(path: Path) -> list[tuple[str, str, int, int]]:
    """Every ``(event, job id, attempt, nanoseconds)`` recorded, in the order of time."""
    if not path.exists():
        return []
    found = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) == 4:
            found.append((parts[0], parts[1], int(parts[2]), int(parts[3])))
    return sorted(found, key=lambda item: item[3])


def most_at_once(events: list[tuple[str, str, int, int]]) -> int:
    """The most attempts that were between their start and their end at one moment."""
    most = now = 0
    for event, *_ in events:
        now += 1 if event == "begin" else -1 if event == "finish" else 0
        most = max(most, now)
    return most


async def timed(request: Timed, context: JobContext) -> str:
    stamp("begin", context)
    if request.kill_first and context.attempt == 1:
        await asyncio.sleep(request.seconds)
        os.kill(os.getpid(), signal.SIGKILL)
    await asyncio.sleep(request.seconds)
    stamp("finish", context)
    return "done"


def build_limited_app(storage: Storage, *, lease: float = 2.0) -> JobApp:
    app = build_app(storage, lease=lease)
    app.job(timed, name="tests.limited.three", limits=[THREE])
    app.job(timed, name="tests.limited.per-key", limits=[ONE_PER_KEY])
    app.job(timed, name="tests.limited.rate", limits=[RATE])
    return app


if "QJ_TEST_EVENTS" in os.environ:  # loaded by a worker process
    app = build_limited_app(storage_from_env(), lease=float(os.environ.get("QJ_TEST_LEASE", "2")))
