"""``python -m benchmarks`` (``make bench``): every scenario, every system, one run.

Starts Azurite (from the project's npm lock) and redis-server (Debian), runs queued-jobs on
SQLite and on Azurite, the raw Azure SDK baseline and the Redis peers, then writes
``benchmarks/out/results.json``, ``results.md`` and ``drain.png``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from queued_jobs import WorkerSettings

from .dashboard import dashboard_first_paint
from .functions_idle import functions_idle
from .listings import listing_costs
from .ours import (
    Backend,
    drain,
    idle_worker,
    memory_growth,
    requests_per_job,
    run_ours,
    sweep_cost,
)
from .report import machine, write_chart, write_json, write_markdown
from .results import Measurement
from .web import web_costs

OUT = Path(__file__).parent / "out"


#: Enqueue-to-start is measured over this many jobs per run (three runs: 210 jobs).
_LATENCY_JOBS = 70
#: The Azure worker's receive batching for drains: hold up to 32 messages beyond the
#: running jobs, as the raw SDK loop does.
_AZURE_PREFETCH = 32
#: Drain concurrencies on Azure, ours and the raw SDK loop's alike.
AZURE_CONCURRENCIES = (1, 16)
#: Queued jobs the sweep's cost is measured with.
SWEEP_BACKLOGS = (0, 2000)


def azure_jobs(quick: bool) -> int:
    """Jobs per Azure drain and per count of requests, the same for ours and the raw SDK
    loop at every concurrency."""
    return 200 if quick else 1000


def listed_jobs(kind: str, quick: bool) -> int:
    """Jobs in the store whose listings are measured: 200,000 on SQLite; 20,000 on Azurite
    (in the table's 16 partitions, past what one query page reads of any of them)."""
    jobs = 200_000 if kind == "sqlite" else 20_000
    return jobs // 10 if quick else jobs


def _ours_sqlite(work: Path, runs: int, quick: bool) -> list[Measurement]:
    sqlite = Backend("sqlite", work=work)
    scale = 0.2 if quick else 1.0
    results = run_ours(
        sqlite,
        runs=runs,
        drain_jobs={1: int(5000 * scale), 16: int(5000 * scale)},
        enqueue_jobs=int(2000 * scale),
        latency_jobs=_LATENCY_JOBS,
        # The default poll; the doorbell wakes the worker, so jobs may come close together.
        poll_max=2.0,
        latency_gap=(0.02, 0.1),
    )
    early, late = (1000, 4000) if quick else (5000, 20000)
    before, after = memory_growth(sqlite, early, late)
    memory = Measurement(
        "worker RSS growth",
        sqlite.label,
        "%",
        [100 * (after - before) / before],
        params={"rss_mib_at": {early: round(before / 2**20, 1), late: round(after / 2**20, 1)}},
    )
    return [*results, memory, *_limited_sqlite(work, runs, scale, plain=False)]


#: The capacity of the limit the limited figures run under: the concurrency of the drain,
#: so that jobs never wait and the figure is the cost of passing the gate.
LIMIT = 16


#: The owner share the shared figures run with: more than any of the 64 owners' jobs in a
#: drain, so that every job takes a place (the share's whole cost) and none spills.
SHARE = 200


def _limited_sqlite(work: Path, runs: int, scale: float, *, plain: bool) -> list[Measurement]:
    """The SQLite drain and enqueue-to-start latency of jobs passing a concurrency limit,
    and of jobs of an app with an owner share (``plain``: and of jobs without either,
    measured the same way, when the full run's figures are not there)."""
    options: list[dict[str, int]] = [{}] if plain else []
    options += [{"limit": LIMIT}, {"share": SHARE}]
    return [
        figure
        for option in options
        for figure in _gated_sqlite(Backend("sqlite", work=work, **option), runs, scale)
    ]


def _gated_sqlite(limited: Backend, runs: int, scale: float) -> list[Measurement]:
    return run_ours(
        limited,
        runs=runs,
        drain_jobs={16: int(5000 * scale)},
        enqueue_jobs=int(2000 * scale),
        latency_jobs=_LATENCY_JOBS,
        poll_max=2.0,
        latency_gap=(0.02, 0.1),
    )


#: Drains per side of the tracing figures: untraced and traced runs alternate, so that
#: a machine's drift during the block falls on both sides alike.
TRACED_RUNS = 5


def _traced_sqlite(work: Path, runs: int, quick: bool) -> list[Measurement]:
    """The SQLite drain untraced and traced (the SDK set up, spans and metrics kept in
    memory), at concurrency 1 and 16, runs alternating."""
    jobs = 1000 if quick else 5000
    plain, traced = Backend("sqlite", work=work), Backend("sqlite", work=work, traced=True)
    results = []
    for concurrency in (1, 16):
        params = {"jobs": jobs, "concurrency": concurrency, "prefetch": 0, "alternated": True}
        figures = [Measurement("drain", b.label, "jobs/s", params=params) for b in (plain, traced)]
        for _ in range(runs):
            for figure, backend in zip(figures, (plain, traced), strict=True):
                figure.runs.append(drain(backend, jobs, concurrency))
        results += figures
    return results


def _limited_azure(work: Path, runs: int, jobs: int) -> list[Measurement]:
    """The Azure drain and requests per job of jobs without limits, passing a concurrency
    limit, and of an app with an owner share: each on an Azurite of its own, fresh, so
    that none runs on a store the others filled."""
    from tests.support.azurite import AzuriteProcess

    results = []
    for options in ({}, {"limit": LIMIT}, {"share": SHARE}):
        with AzuriteProcess() as azurite:
            backend = Backend("azure", work=work, connection=azurite.connection_string, **options)
            results += _gated_azure(backend, runs, jobs)
    return results


def _gated_azure(limited: Backend, runs: int, jobs: int) -> list[Measurement]:
    results = []
    params = {"jobs": jobs, "concurrency": 16, "prefetch": _AZURE_PREFETCH, "azurite": "fresh"}
    figure = Measurement("drain", limited.label, "jobs/s", params=params)
    figure.runs = [drain(limited, jobs, 16, _AZURE_PREFETCH) for _ in range(runs)]
    results.append(figure)
    _, phases, _ = requests_per_job(limited, jobs, concurrency=16, prefetch=_AZURE_PREFETCH)
    per_job = sum(value for name, value in phases.items() if name != "sweep")
    results.append(
        Measurement(
            "requests per job",
            limited.label,
            "requests/job",
            [round(per_job, 3)],
            params={**params, **phases},
        )
    )
    return results


def _ours_azure(work: Path, runs: int, connection: str, quick: bool) -> list[Measurement]:
    azure = Backend("azure", work=work, connection=connection)
    scale = 0.2 if quick else 1.0
    jobs = azure_jobs(quick)
    results = run_ours(
        azure,
        runs=runs,
        drain_jobs=dict.fromkeys(AZURE_CONCURRENCIES, jobs),
        prefetch=_AZURE_PREFETCH,
        enqueue_jobs=int(500 * scale),
        latency_jobs=_LATENCY_JOBS,
        poll_max=0.5,
    )
    results += _costs_per_job(azure, jobs)
    results += _idle_costs(azure, runs, quick)
    results += _sweep_costs(azure)
    return results


def _costs_per_job(azure: Backend, jobs: int) -> list[Measurement]:
    results = []
    for concurrency in AZURE_CONCURRENCIES:
        for prefetch in (0, _AZURE_PREFETCH):
            _, phases, sizes = requests_per_job(
                azure, jobs, concurrency=concurrency, prefetch=prefetch
            )
            params = {"jobs": jobs, "concurrency": concurrency, "prefetch": prefetch}
            # The worker's sweep at its start is a cost per sweep interval, not per job:
            # shown beside the phases, not in the figure.
            per_job = sum(value for name, value in phases.items() if name != "sweep")
            results.append(
                Measurement(
                    "requests per job",
                    azure.label,
                    "requests/job",
                    [round(per_job, 3)],
                    params={**params, **phases},
                )
            )
            results.append(
                Measurement(
                    "bytes per job",
                    azure.label,
                    "bytes/job",
                    [sum(size for name, size in sizes.items() if name != "sweep")],
                    params={**params, **sizes},
                )
            )
    return results


def _idle_costs(azure: Backend, runs: int, quick: bool) -> list[Measurement]:
    """An idle worker, sweep on: per queue at ``poll_max`` 0.5 s, and in all at the
    worker's defaults; an idle Functions app."""
    fast = [idle_worker(azure, 4 if quick else 8, 0.5) for _ in range(runs)]
    per_queue = Measurement(
        "idle requests",
        azure.label,
        "requests/s per queue",
        [one["poll_per_queue"] for one in fast],
        params={"poll_max_s": 0.5, "sweep": "on"},
    )
    default_poll = WorkerSettings().poll_max.total_seconds()
    idle = [idle_worker(azure, 8 if quick else 16, default_poll) for _ in range(runs)]
    total = Measurement(
        "idle worker, sweep on",
        azure.label,
        "requests/s",
        [one["total"] for one in idle],
        params={
            "poll_max_s": default_poll,
            "polling_per_s": round(statistics.median(one["polling"] for one in idle), 3),
            "sweep_requests": statistics.median(one["sweep_requests"] for one in idle),
            "sweep_interval_s": idle[0]["sweep_interval_s"],
        },
    )
    functions = functions_idle(azure.fresh())
    timers = {
        name: f"{timer['requests']:g} requests every {timer['period_s']:g} s"
        for name, timer in functions["timers"].items()
    }
    app = Measurement(
        "idle Functions app",
        "queued-jobs Functions (Azurite)",
        "requests/s",
        [functions["total"]],
        params={
            "queue_triggers": functions["queue_triggers"],
            "maxPollingInterval_s": functions["max_polling_interval_s"],
            "polling_per_s": round(functions["polling"], 3),
            **timers,
        },
    )
    return [per_queue, total, app]


def _sweep_costs(azure: Backend) -> list[Measurement]:
    results = []
    for queued in SWEEP_BACKLOGS:
        costs = sweep_cost(azure, queued)
        params = {"queued_jobs": queued, "sweeps": len(costs)}
        for unit, index in (("requests", 0), ("bytes", 1)):
            results.append(
                Measurement(
                    f"sweep {unit}",
                    azure.label,
                    f"{unit}/sweep",
                    [float(cost[index]) for cost in costs],
                    params=params,
                )
            )
    return results


def _raw_azure(connection: str, runs: int, quick: bool, env_settings: bool) -> list[Measurement]:
    """The raw SDK loop with the same jobs and concurrencies as :func:`_ours_azure`."""
    from .raw_sdk import run_raw_sdk

    return run_raw_sdk(
        connection,
        jobs=azure_jobs(quick),
        runs=runs,
        concurrencies=AZURE_CONCURRENCIES,
        env_settings=env_settings,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer jobs, for a smoke run")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument(
        "--only",
        choices=["web", "dashboard", "limits", "telemetry"],
        help="only these scenarios (the figures of the rest stay out)",
    )
    arguments = parser.parse_args()
    quick = arguments.quick
    from tests.support.azurite import AzuriteProcess

    began = time.monotonic()
    results: list[Measurement] = []
    # Every Azure block gets an Azurite of its own: a long-running Azurite slows down as its
    # stored data grows, which would favour whichever system ran first.
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        if arguments.only == "telemetry":
            results += _traced_sqlite(Path(work), max(arguments.runs, TRACED_RUNS), quick)
            _write(results, began, name="results-telemetry")
            return
        if arguments.only == "limits":  # the limited drains beside unlimited ones
            scale = 0.2 if quick else 1.0
            results += _limited_sqlite(Path(work), arguments.runs, scale, plain=True)
            results += _limited_azure(Path(work), arguments.runs, azure_jobs(quick))
            _write(results, began, name="results-limits")
            return
        if arguments.only in (None, "dashboard"):
            results += dashboard_first_paint(Path(work), jobs=10_000 if quick else 100_000)
            if arguments.only == "dashboard":
                _write(results, began, name="results-dashboard")
                return
        results += _web(Path(work), quick)
        if arguments.only == "web":
            _write(results, began, name="results-web")
            return
        results += _ours_sqlite(Path(work), arguments.runs, arguments.quick)
        results += _traced_sqlite(Path(work), max(arguments.runs, TRACED_RUNS), quick)
        results += listing_costs("sqlite", work=Path(work), jobs=listed_jobs("sqlite", quick))
        with AzuriteProcess() as azurite:
            results += _ours_azure(
                Path(work), arguments.runs, azurite.connection_string, arguments.quick
            )
        results += _limited_azure(Path(work), arguments.runs, azure_jobs(quick))
        with AzuriteProcess() as azurite:
            results += listing_costs(
                "azure",
                work=Path(work),
                jobs=listed_jobs("azure", quick),
                connection=azurite.connection_string,
            )
    for env_settings in (False, True):
        with AzuriteProcess() as azurite:
            results += _raw_azure(
                azurite.connection_string, arguments.runs, arguments.quick, env_settings
            )
    if not arguments.skip_peers:
        from .peers import run_peers
        from .redis_server import RedisServer

        with RedisServer() as redis_url:
            results += run_peers(
                redis_url, jobs=1000 if arguments.quick else 5000, runs=arguments.runs
            )
    _write(results, began)


def _web(work: Path, quick: bool) -> list[Measurement]:
    """The web API's scenarios on SQLite and on an Azurite of their own."""
    from tests.support.azurite import AzuriteProcess

    results = web_costs(Backend("sqlite", work=work).fresh(), quick=quick)
    with AzuriteProcess() as azurite:
        azure = Backend("azure", work=work, connection=azurite.connection_string)
        results += web_costs(azure.fresh(), quick=quick)
    return results


def _write(results: list[Measurement], began: float, *, name: str = "results") -> None:
    OUT.mkdir(exist_ok=True)
    took = time.monotonic() - began
    about = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seconds": round(took),
    }
    write_json(OUT / f"{name}.json", results, about)
    box = about["machine"]
    header = (
        f"Measured {about['when']} on {box['cpu']} ({box['cores']} cores), "
        f"Python {box['python']}, in {took:.0f} s."
    )
    print(write_markdown(OUT / f"{name}.md", results, header))
    if name == "results" and not write_chart(OUT / "drain.png", results):
        print("No drain.png: matplotlib is missing (make bench installs the bench extra).")


if __name__ == "__main__":
    main()
