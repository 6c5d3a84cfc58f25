"""The integration tests' app with limited job types beside the plain ones: ``tests.export``
(one at a time per customer, ``exports``) holds its place until released, and
``tests.call`` passes a rate (``calls``). A worker process or ``queued-jobs serve`` loads
``tests.integration.export_jobs:app``.

A running export ends once the file ``<events file>.release`` exists (or after its
``hold`` seconds), so a test decides when a place is given back.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel

from queued_jobs.app import JobApp, Storage
from queued_jobs.clock import SYSTEM_CLOCK, Clock
from queued_jobs.context import JobContext
from queued_jobs.limits import ConcurrencyLimit, RateLimit, by_request
from tests.integration.jobs import build_app, record, storage_from_env

EXPORTS = ConcurrencyLimit("exports", 1, key=by_request("customer"))
CALLS = RateLimit("calls", 5, per=timedelta(minutes=1))


class Export(BaseModel):
    customer: str
    #: The most seconds it holds its place (it ends sooner once released).
    hold: float = 60.0


def release_file() -> Path:
    """The file whose existence ends every running export."""
    return Path(os.environ["QJ_TEST_EVENTS"] + ".release")


def build_export_app(
    storage: Storage, *, clock: Clock = SYSTEM_CLOCK, lease: float = 2.0
) -> JobApp:
    app = build_app(storage, clock=clock, lease=lease)

    @app.job(name="tests.export", limits=[EXPORTS])
    async def export(request: Export, context: JobContext) -> str:
        record("start", context)
        deadline = time.monotonic() + request.hold
        while time.monotonic() < deadline and not release_file().exists():  # noqa: ASYNC110 (another process's file)
            await asyncio.sleep(0.05)
        record("done", context)
        return request.customer

    @app.job(name="tests.call", limits=[CALLS])
    async def call(request: None, context: JobContext) -> None:
        record("start", context)

    return app


if "QJ_TEST_EVENTS" in os.environ:  # loaded by a worker process or the API server
    app = build_export_app(storage_from_env(), lease=float(os.environ.get("QJ_TEST_LEASE", "2")))
