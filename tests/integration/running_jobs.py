"""Job types that do not run two jobs at once (one per ``already_running`` policy), and the
app a subprocess worker loads to run them (``tests.integration.running_jobs:app``):
``tests.work`` and the jobs below.

Each job records its start and its end (``record``), and holds until the file its request
names exists or it is told to stop, so that a test decides when the running job ends and
sees from the events whether two jobs ever ran at once."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import BaseModel

from queued_jobs.app import JobApp, Storage
from queued_jobs.context import JobContext
from queued_jobs.runner import AlreadyRunning
from tests.integration.jobs import build_app, record, storage_from_env

#: The job type of each policy.
TYPES = {policy: f"tests.alone.{policy.value}" for policy in AlreadyRunning}
#: The longest a job holds (a test that never releases it still ends).
HOLD_AT_MOST = 120.0


class Hold(BaseModel):
    #: Run until this file exists.
    release: str


async def hold(request: Hold, context: JobContext) -> str:
    record("start", context)
    try:
        loop = asyncio.get_running_loop()
        ends = loop.time() + HOLD_AT_MOST
        released = Path(request.release)
        while not released.exists() and loop.time() < ends:  # noqa: ASYNC110, ASYNC240 - a file the test makes
            await asyncio.sleep(0.05)
    finally:
        record("end", context)  # also when told to stop; never when its worker is killed
    return "done"


def build_running_app(storage: Storage, *, lease: float = 2.0) -> JobApp:
    app = build_app(storage, lease=lease)
    for policy, name in TYPES.items():
        app.job(hold, name=name, already_running=policy)
    return app


if "QJ_TEST_EVENTS" in os.environ:  # loaded by a worker process
    app = build_running_app(storage_from_env(), lease=float(os.environ.get("QJ_TEST_LEASE", "2")))
