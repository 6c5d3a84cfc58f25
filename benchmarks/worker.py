"""A benchmark worker process: ``python -m benchmarks.worker SPEC_JSON [options]``.

Runs the app's worker until ``--jobs`` jobs succeeded (or SIGTERM), then prints one JSON
line: the resident memory after given numbers of jobs, and (``--count-requests``) the
storage requests it made by kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from queued_jobs import JobStatus, QueuedJob, WorkerSettings

from .app import make_app
from .requests import RequestKinds


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
    first_start: float | None = None
    last_end: float | None = None
    finished = asyncio.Event()
    rss: dict[int, int] = {}
    marks = set(arguments.rss_at)

    async def count(job: QueuedJob) -> None:
        nonlocal done, first_start, last_end
        if job.status is JobStatus.RUNNING and job.started_at:
            started = job.started_at.timestamp()
            first_start = started if first_start is None else min(first_start, started)
        if job.status is JobStatus.SUCCEEDED and job.completed_at:
            ended = job.completed_at.timestamp()
            last_end = ended if last_end is None else max(last_end, ended)
            done += 1
            if done in marks:
                rss[done] = rss_bytes()
            if done == arguments.jobs:
                finished.set()

    kinds = RequestKinds(spec["connection"]) if arguments.count_requests else None
    options = {"raw_request_hook": kinds} if kinds else None
    app = make_app(spec, listeners=[count], client_options=options)
    settings = WorkerSettings(
        concurrency=arguments.concurrency,
        prefetch=arguments.prefetch,
        poll_max=timedelta(seconds=arguments.poll_max),
        sweep_interval=None,
        shutdown_grace=timedelta(seconds=5),
    )
    worker = app.worker(settings, identity="bench-worker")
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, finished.set)
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
    seconds = last_end - first_start if first_start and last_end else None
    requests = dict(kinds.counts) if kinds else None
    phases = dict(kinds.phases) if kinds else None
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "done": done,
        "seconds": seconds,
        "rss": rss,
        "requests": requests,
        "phases": phases,
        "cpu": cpu,
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker")
    parser.add_argument("spec")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=0, help="stop after this many (0: never)")
    parser.add_argument("--prefetch", type=int, default=0)
    parser.add_argument("--poll-max", type=float, default=2.0)
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
