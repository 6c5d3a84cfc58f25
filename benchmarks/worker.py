"""A benchmark worker process: ``python -m benchmarks.worker SPEC_JSON [options]``.

Runs the app's worker, with its sweep on (at the worker's default interval unless
``--sweep-interval`` says otherwise), until ``--jobs`` jobs succeeded or ``--sweeps``
sweeps finished (or SIGTERM), then prints one JSON line: the drain's wall time
(:class:`~benchmarks.timing.DrainClock`, from the worker's start to the last completion it
wrote), the resident memory after given numbers of jobs, and (``--count-requests``) the
storage requests it made by kind, phase and source and the bytes of their bodies, with
each sweep's own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import signal
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from opentelemetry import trace

from queued_jobs import JobStatus, QueuedJob, WorkerSettings
from queued_jobs.execution.sweep import Sweeper

from .app import make_app
from .requests import RequestKinds, counted_as
from .timing import DrainClock

#: The standalone worker's own sweep interval, which the benchmark keeps by default.
SWEEP_INTERVAL = WorkerSettings().sweep_interval


def count_sweeps(
    sweeper: Sweeper, kinds: RequestKinds | None, swept: Callable[[int], None]
) -> list[dict[str, float]]:
    """Make every sweep of ``sweeper`` count its requests as ``"sweep"``; returns the list
    that gets each finished sweep's requests, body bytes and seconds (``swept`` is called
    with the number of sweeps so far after each)."""
    sweeps: list[dict[str, float]] = []
    sweep = sweeper.sweep

    async def counted() -> Any:
        requests = kinds.ever["sweep"] if kinds else 0
        sent = kinds.ever_bytes["sweep"] if kinds else 0
        began = time.perf_counter()
        with counted_as("sweep"):
            report = await sweep()
        sweeps.append(
            {
                "requests": (kinds.ever["sweep"] - requests) if kinds else 0,
                "bytes": (kinds.ever_bytes["sweep"] - sent) if kinds else 0,
                "seconds": time.perf_counter() - began,
            }
        )
        swept(len(sweeps))
        return report

    sweeper.sweep = counted  # type: ignore[method-assign]
    return sweeps


def rss_bytes() -> int:
    """The process's resident set size now (Linux), else its peak."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        pages = int(statm.read_text().split()[1])
        return pages * resource.getpagesize()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def main(arguments: argparse.Namespace) -> dict[str, Any]:
    spec = json.loads(arguments.spec)
    done = 0
    clock = DrainClock(arguments.jobs) if arguments.jobs else None
    finished = asyncio.Event()
    rss: dict[int, int] = {}
    marks = set(arguments.rss_at)

    async def count(job: QueuedJob) -> None:
        nonlocal done
        if job.status is JobStatus.SUCCEEDED:
            done += 1
            if clock is not None:
                clock.completed()
            if done in marks:
                rss[done] = rss_bytes()
            if done == arguments.jobs:
                finished.set()

    kinds = RequestKinds(spec["connection"]) if arguments.count_requests else None
    traced = bool(spec.get("telemetry"))
    if traced:
        from .telemetry import install_global_sdk

        spans = install_global_sdk()
    app = make_app(
        spec,
        listeners=[count],
        client_options=kinds.hooks() if kinds else None,
        traced_globally=traced,
    )
    settings = WorkerSettings(
        concurrency=arguments.concurrency,
        prefetch=arguments.prefetch,
        poll_max=timedelta(seconds=arguments.poll_max),
        sweep_interval=timedelta(seconds=arguments.sweep_interval),
        shutdown_grace=timedelta(seconds=5),
    )
    worker = app.worker(settings, identity="bench-worker")
    if worker.sweeper is None:
        raise RuntimeError("the app's worker has no sweeper: its idle cost would be understated")

    def swept(count: int) -> None:
        if arguments.sweeps and count >= arguments.sweeps:
            finished.set()

    sweeps = count_sweeps(worker.sweeper, kinds, swept)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, finished.set)
    if clock is not None:
        clock.begin()
    running = asyncio.create_task(worker.run())
    if kinds is not None and arguments.count_after:
        loop.call_later(arguments.count_after, kinds.reset)
    print(json.dumps({"ready": True}), flush=True)
    waiting = asyncio.create_task(finished.wait())
    await asyncio.wait({running, waiting}, return_when=asyncio.FIRST_COMPLETED)
    worker.stop()
    await running
    await worker.close()
    waiting.cancel()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    if traced:  # the spans were kept: the SDK did the work it would do for an exporter
        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
        if len(spans.get_finished_spans()) < done:
            raise RuntimeError("the traced drain kept fewer spans than it ran jobs")
    return {
        "done": done,
        "seconds": clock.seconds if clock else None,
        "rss": rss,
        "requests": dict(kinds.counts) if kinds else None,
        "phases": dict(kinds.phases) if kinds else None,
        "sources": dict(kinds.sources) if kinds else None,
        "bytes": dict(kinds.bytes_by_source) if kinds else None,
        "sweeps": sweeps,
        "sweep_interval": arguments.sweep_interval,
        "cpu": cpu,
    }


def _positive(text: str) -> float:
    value = float(text)
    if not (
        value > 0 and math.isfinite(value)
    ):  # the sweep is part of what a worker costs: it is never turned off
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("spec")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=0, help="stop after this many (0: never)")
    parser.add_argument("--prefetch", type=int, default=0)
    parser.add_argument("--poll-max", type=float, default=2.0)
    default_sweep = SWEEP_INTERVAL.total_seconds() if SWEEP_INTERVAL else 60.0
    parser.add_argument(
        "--sweep-interval",
        type=_positive,
        default=default_sweep,
        help=f"seconds between sweeps (default: the worker's own, {default_sweep:g})",
    )
    parser.add_argument(
        "--sweeps", type=int, default=0, help="stop after this many sweeps (0: never)"
    )
    parser.add_argument("--rss-at", type=int, nargs="*", default=[])
    parser.add_argument("--count-requests", action="store_true")
    parser.add_argument(
        "--count-after", type=float, default=0.0, help="count requests from this many seconds on"
    )
    parser.add_argument("--profile", help="write a cProfile of the run to this file")
    return parser.parse_args(argv)


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    if not arguments.profile:
        return asyncio.run(main(arguments))
    import cProfile

    with cProfile.Profile() as profile:
        report = asyncio.run(main(arguments))
    profile.dump_stats(arguments.profile)
    return report


if __name__ == "__main__":
    print(json.dumps(run(parse(sys.argv[1:]))), flush=True)
