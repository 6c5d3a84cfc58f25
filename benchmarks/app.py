"""The benchmarked application: one no-op job type, on the backend a spec names (with
``"limit": N``, its jobs pass a concurrency limit of capacity N, one gate for all; with
``"share": N``, the app has an owner share of N; with ``"telemetry": true``, it is traced
and measured through the OpenTelemetry SDK: :mod:`benchmarks.telemetry`).

A spec is a small JSON-able dict so that a worker in another process opens the same store:
``{"backend": "sqlite", "path": ".../bench.db"}`` or
``{"backend": "azure", "connection": "...", "name": "bench1a2b"}`` (table and queue name).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from queued_jobs import (
    AzureStorage,
    ExecutionSettings,
    JobApp,
    OwnerShare,
    QueueNames,
    SqliteStorage,
)
from queued_jobs.execution.pipeline import StatusListener
from queued_jobs.limits import ConcurrencyLimit

__all__ = ["NOOP", "make_app"]

NOOP = "bench.noop"


async def noop(index: int) -> None:
    """The job every system runs: takes its index, does nothing."""


def make_app(
    spec: Mapping[str, Any],
    *,
    listeners: list[StatusListener] | None = None,
    client_options: Mapping[str, Any] | None = None,
    traced_globally: bool = False,
) -> JobApp:
    """``traced_globally``: the process set the OpenTelemetry SDK up (a traced worker);
    else a spec with ``"telemetry": true`` traces on providers of its own."""
    share = OwnerShare(int(spec["share"])) if spec.get("share") else None
    telemetry = None
    if spec.get("telemetry") and not traced_globally:
        from .telemetry import local_telemetry

        telemetry = local_telemetry()
    settings = ExecutionSettings(
        progress_interval=timedelta(seconds=1), owner_share=share, telemetry=telemetry
    )
    if spec["backend"] == "sqlite":
        storage: Any = SqliteStorage(spec["path"])
        queues = QueueNames("jobs")
    else:
        storage = AzureStorage(
            spec["connection"], table=spec["name"], client_options=dict(client_options or {})
        )
        queues = QueueNames(spec["name"])
    app = JobApp(storage, queues=queues, settings=settings, listeners=listeners)
    limits = [ConcurrencyLimit("bench", int(spec["limit"]))] if spec.get("limit") else []
    app.job(name=NOOP, limits=limits)(noop)
    return app
