"""queued-jobs' own scenarios, on the embedded SQLite backend and on Azurite.

Every worker is its own process (``benchmarks.worker``), like the peers' workers, with its
sweep on. Drain throughput is ``jobs / seconds``, the wall time in the worker process from
its start to the last completion it wrote (:mod:`benchmarks.timing`, as the raw SDK loop
is timed).
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from queued_jobs import JobSpec, WorkerSettings

from .app import NOOP, make_app
from .requests import RequestKinds, counted_as
from .results import Measurement

__all__ = ["Backend", "idle_worker", "requests_per_job", "run_ours", "sweep_cost"]

_OWNERS = 64
_BATCH = 100
#: The app's priority bands (a queue each).
_BANDS = 3


class Backend:
    """Fresh stores of one kind, one per run."""

    def __init__(
        self,
        kind: str,
        *,
        work: Path,
        connection: str | None = None,
        limit: int | None = None,
        share: int | None = None,
        traced: bool = False,
    ) -> None:
        """``limit``: the jobs pass a concurrency limit of that capacity (one gate);
        ``share``: the app has an owner share of that many jobs; ``traced``: the
        OpenTelemetry SDK is set up (:mod:`benchmarks.telemetry`)."""
        self.kind = kind
        self.work = work
        self.connection = connection
        self.limit = limit
        self.share = share
        self.traced = traced
        store = "SQLite" if kind == "sqlite" else "Azurite"
        extra = f", limit {limit}" if limit else f", owner share {share}" if share else ""
        extra += ", traced" if traced else ""
        self.label = f"queued-jobs ({store}{extra})"

    def fresh(self) -> dict[str, Any]:
        name = f"b{uuid.uuid4().hex[:12]}"
        spec: dict[str, Any]
        if self.kind == "sqlite":
            spec = {"backend": "sqlite", "path": str(self.work / f"{name}.db")}
        else:
            spec = {"backend": "azure", "connection": self.connection, "name": name}
        if self.limit:
            spec["limit"] = self.limit
        if self.share:
            spec["share"] = self.share
        if self.traced:
            spec["telemetry"] = True
        return spec


def _spec(index: int) -> JobSpec:
    return JobSpec(NOOP, index, f"user{index % _OWNERS}")


async def _prepare(
    spec: Mapping[str, Any], jobs: int, *, batch: bool, create: bool = True, **options: Any
) -> float:
    """Store and queue ``jobs`` no-op jobs (creating the storage first); returns jobs/s."""
    app = make_app(spec, **options)
    async with app.client() as client:
        if create:
            await client.create_storage()
        began = time.perf_counter()
        if batch:
            for start in range(0, jobs, _BATCH):
                await client.queue_jobs([_spec(i) for i in range(start, min(start + _BATCH, jobs))])
        else:
            for index in range(jobs):
                await client.queue_job(NOOP, index, owner=f"user{index % _OWNERS}")
        return jobs / (time.perf_counter() - began)


def _worker(spec: Mapping[str, Any], *arguments: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "benchmarks.worker", json.dumps(spec), *arguments]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready = process.stdout.readline()
    if not ready:
        raise RuntimeError(f"the benchmark worker did not start: {command}")
    return process


def _report(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    output, _ = process.communicate(timeout=timeout)
    if process.returncode:
        raise RuntimeError(f"the benchmark worker failed with exit code {process.returncode}")
    report: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return report


def drain(backend: Backend, jobs: int, concurrency: int, prefetch: int = 0) -> float:
    spec = backend.fresh()
    asyncio.run(_prepare(spec, jobs, batch=True))
    options = ["--concurrency", str(concurrency), "--prefetch", str(prefetch)]
    worker = _worker(spec, "--jobs", str(jobs), *options)
    report = _report(worker, timeout=300)
    if not report["seconds"]:
        raise RuntimeError(f"the drain did not finish: {report['done']} of {jobs} jobs")
    return float(jobs / report["seconds"])


def enqueue(backend: Backend, jobs: int, *, batch: bool) -> float:
    return asyncio.run(_prepare(backend.fresh(), jobs, batch=batch))


async def _send_spaced(spec: Mapping[str, Any], jobs: int, gap: tuple[float, float]) -> list[float]:
    """Queue ``jobs`` jobs at random intervals; returns each one's enqueue-to-start in ms."""
    app = make_app(spec)
    rng = random.Random(7)
    async with app.client() as client:
        ids = []
        for index in range(jobs):
            await asyncio.sleep(rng.uniform(*gap))
            ids.append((await client.queue_job(NOOP, index, owner=f"user{index}")).id)
        waits = []
        for job_id in ids:
            job = await client.wait(job_id)
            assert job.started_at is not None
            waits.append((job.started_at - job.created_at).total_seconds() * 1000)
    return waits


def latency(
    backend: Backend, jobs: int, poll_max: float, gap: tuple[float, float] | None = None
) -> list[float]:
    """Enqueue-to-start (ms) of ``jobs`` jobs sent at random intervals to an idle worker
    (by default intervals long enough for it to have backed off to ``poll_max``)."""
    spec = backend.fresh()
    asyncio.run(_prepare(spec, 0, batch=True))
    worker = _worker(spec, "--jobs", str(jobs), "--poll-max", str(poll_max))
    waits = asyncio.run(_send_spaced(spec, jobs, gap or (poll_max, 2 * poll_max)))
    _report(worker, timeout=60)
    return waits


def percentile(values: list[float], which: int) -> float:
    """The ``which``-th percentile of ``values``."""
    return statistics.quantiles(values, n=100)[which - 1]


def idle_worker(backend: Backend, seconds: float, poll_max: float) -> dict[str, float]:
    """What a worker with nothing to do costs, its sweep on at the worker's own interval.

    Its polling (every request but the sweep's) is counted over ``seconds`` once it has
    backed off (from ``2 * poll_max`` after its start); each sweep counts its own requests.
    ``total`` is requests/s: the polling plus a sweep's requests once per sweep interval
    (an idle sweep costs the same every time, so the window need not hold one)."""
    spec = backend.fresh()
    asyncio.run(_prepare(spec, 0, batch=True))
    settle = 2 * poll_max
    options = ["--poll-max", str(poll_max), "--count-requests", "--count-after", str(settle)]
    worker = _worker(spec, *options)
    time.sleep(settle + seconds)
    worker.terminate()
    report = _report(worker, timeout=30)
    sweeps = report["sweeps"]
    if not sweeps:
        raise RuntimeError("the idle worker did not sweep: its cost would be understated")
    polling = report["sources"].get("loop", 0) / seconds
    interval = float(report["sweep_interval"])
    sweep = statistics.mean(one["requests"] for one in sweeps)
    return {
        "poll_per_queue": polling / _BANDS,
        "polling": polling,
        "sweep_requests": sweep,
        "sweep_bytes": statistics.mean(one["bytes"] for one in sweeps),
        "sweep_interval_s": interval,
        "total": polling + sweep / interval,
    }


async def _sweep_costs(spec: Mapping[str, Any], sweeps: int) -> list[tuple[int, int, float]]:
    kinds = RequestKinds(spec["connection"])
    app = make_app(spec, client_options=kinds.hooks())
    # The sweeper a worker of this app runs (built the way the app builds it).
    worker = app.worker(WorkerSettings(), identity="bench-sweep")
    if worker.sweeper is None:
        raise RuntimeError("the app's worker has no sweeper")
    costs = []
    try:
        for _ in range(sweeps):
            kinds.reset()
            began = time.perf_counter()
            with counted_as("sweep"):
                await worker.sweeper.sweep()
            costs.append((kinds.total, kinds.total_bytes, time.perf_counter() - began))
    finally:
        await worker.pipeline.repository.close()
        await worker.pipeline.broker.close()
    return costs


def sweep_cost(backend: Backend, queued: int, sweeps: int = 3) -> list[tuple[int, int, float]]:
    """``sweeps`` sweeps in a row of a store holding ``queued`` queued jobs (none of them
    due for a resend): each one's (requests, body bytes, seconds)."""
    spec = backend.fresh()
    asyncio.run(_prepare(spec, queued, batch=True))
    return asyncio.run(_sweep_costs(spec, sweeps))


def requests_per_job(
    backend: Backend, jobs: int, *, concurrency: int = 16, prefetch: int = 0
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Storage requests per successful job by kind and by phase, enqueue (single calls)
    included, and the bytes of their bodies per job (``enqueue``, ``drain``), with those of
    the worker's sweep apart (phase and bytes ``sweep``: it runs as the worker starts)."""
    spec = backend.fresh()
    asyncio.run(_prepare(spec, 0, batch=True))
    kinds = RequestKinds(str(backend.connection))
    asyncio.run(_prepare(spec, jobs, batch=False, create=False, client_options=kinds.hooks()))
    options = ["--concurrency", str(concurrency), "--prefetch", str(prefetch)]
    worker = _worker(spec, "--jobs", str(jobs), "--count-requests", *options)
    worked = _report(worker, timeout=300)

    def per_job(*counts: Mapping[str, float]) -> dict[str, float]:
        total: Counter[str] = Counter()
        for count in counts:
            total.update(count)
        return {name: round(value / jobs, 3) for name, value in sorted(total.items())}

    drained = sum(size for source, size in worked["bytes"].items() if source != "sweep")
    sizes = {
        "enqueue": kinds.total_bytes,
        "drain": drained,
        "sweep": worked["bytes"].get("sweep", 0),
    }
    return (
        per_job(kinds.counts, worked["requests"]),
        per_job(kinds.phases, worked["phases"]),
        {name: round(value / jobs) for name, value in sizes.items()},
    )


def memory_growth(backend: Backend, early: int, late: int) -> tuple[int, int]:
    """The worker's RSS after ``early`` and after ``late`` processed jobs."""
    spec = backend.fresh()
    asyncio.run(_prepare(spec, late, batch=True))
    worker = _worker(spec, "--jobs", str(late), "--rss-at", str(early), str(late))
    rss = _report(worker, timeout=600)["rss"]
    return int(rss[str(early)]), int(rss[str(late)])


def run_ours(
    backend: Backend,
    *,
    runs: int = 3,
    drain_jobs: Mapping[int, int],
    prefetch: int = 0,
    enqueue_jobs: int,
    latency_jobs: int,
    poll_max: float,
    latency_gap: tuple[float, float] | None = None,
) -> list[Measurement]:
    """Every scenario on ``backend``, each repeated ``runs`` times. Latency percentiles
    are over the jobs of all runs together (``latency_jobs`` per run); their min-max over
    the runs' own percentiles."""
    results = []
    for concurrency, jobs in drain_jobs.items():
        params = {"jobs": jobs, "concurrency": concurrency, "prefetch": prefetch}
        figure = Measurement("drain", backend.label, "jobs/s", params=params)
        figure.runs = [drain(backend, jobs, concurrency, prefetch) for _ in range(runs)]
        results.append(figure)
    for batch in (False, True):
        params = {"jobs": enqueue_jobs, "api": "queue_jobs" if batch else "queue_job"}
        figure = Measurement("enqueue", backend.label, "jobs/s", params=params)
        figure.runs = [enqueue(backend, enqueue_jobs, batch=batch) for _ in range(runs)]
        results.append(figure)
    waits = [latency(backend, latency_jobs, poll_max, latency_gap) for _ in range(runs)]
    pooled = [wait for run in waits for wait in run]
    for which in (50, 99):
        figure = Measurement(
            f"latency p{which}",
            backend.label,
            "ms",
            params={"poll_max_s": poll_max, "jobs": len(pooled)},
        )
        figure.runs = [percentile(run, which) for run in waits]
        figure.pooled = percentile(pooled, which)
        results.append(figure)
    return results
