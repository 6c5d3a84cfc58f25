"""``python -m benchmarks`` (``make bench``): every scenario, every system, one run.

Starts Azurite (from the project's npm lock) and redis-server (Debian), runs queued-jobs on
SQLite and on Azurite, the raw Azure SDK baseline and the Redis peers, then writes
``benchmarks/out/results.json``, ``results.md`` and ``drain.png``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from .ours import Backend, idle_requests, memory_growth, requests_per_job, run_ours
from .report import machine, write_chart, write_json, write_markdown
from .results import Measurement

OUT = Path(__file__).parent / "out"


#: Enqueue-to-start is measured over this many jobs per run (three runs: 210 jobs).
_LATENCY_JOBS = 70
#: The Azure worker's receive batching for drains: hold up to 32 messages beyond the
#: running jobs, as the raw SDK loop does.
_AZURE_PREFETCH = 32


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
    return [*results, memory]


def _ours_azure(work: Path, runs: int, connection: str, quick: bool) -> list[Measurement]:
    azure = Backend("azure", work=work, connection=connection)
    scale = 0.2 if quick else 1.0
    results = run_ours(
        azure,
        runs=runs,
        drain_jobs={1: int(300 * scale), 16: int(1000 * scale)},
        prefetch=_AZURE_PREFETCH,
        enqueue_jobs=int(500 * scale),
        latency_jobs=_LATENCY_JOBS,
        poll_max=0.5,
    )
    jobs = int(200 * scale) or 20
    for prefetch in (0, _AZURE_PREFETCH):
        kinds, phases = requests_per_job(azure, jobs, prefetch=prefetch)
        results.append(
            Measurement(
                "requests per job",
                azure.label,
                "requests/job",
                [sum(kinds.values())],
                params={"jobs": jobs, "concurrency": 16, "prefetch": prefetch, **phases},
            )
        )
    idle = Measurement(
        "idle requests", azure.label, "requests/s per queue", params={"poll_max_s": 0.5}
    )
    idle.runs = [idle_requests(azure, 8, 0.5) for _ in range(runs)]
    return [*results, idle]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer jobs, for a smoke run")
    parser.add_argument("--skip-peers", action="store_true")
    arguments = parser.parse_args()
    from tests.support.azurite import AzuriteProcess

    from .raw_sdk import run_raw_sdk

    began = time.monotonic()
    results: list[Measurement] = []
    # Every Azure block gets an Azurite of its own: a long-running Azurite slows down as its
    # stored data grows, which would favour whichever system ran first.
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        results += _ours_sqlite(Path(work), arguments.runs, arguments.quick)
        with AzuriteProcess() as azurite:
            results += _ours_azure(
                Path(work), arguments.runs, azurite.connection_string, arguments.quick
            )
    for env_settings in (False, True):
        with AzuriteProcess() as azurite:
            results += run_raw_sdk(
                azurite.connection_string,
                jobs=200 if arguments.quick else 1000,
                runs=arguments.runs,
                env_settings=env_settings,
            )
    if not arguments.skip_peers:
        from .peers import run_peers
        from .redis_server import RedisServer

        with RedisServer() as redis_url:
            results += run_peers(
                redis_url, jobs=1000 if arguments.quick else 5000, runs=arguments.runs
            )
    OUT.mkdir(exist_ok=True)
    took = time.monotonic() - began
    about = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seconds": round(took),
    }
    write_json(OUT / "results.json", results, about)
    box = about["machine"]
    header = (
        f"Measured {about['when']} on {box['cpu']} ({box['cores']} cores), "
        f"Python {box['python']}, in {took:.0f} s."
    )
    print(write_markdown(OUT / "results.md", results, header))
    write_chart(OUT / "drain.png", results)


if __name__ == "__main__":
    main()
