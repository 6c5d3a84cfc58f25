"""``python -m benchmarks.peers [PEER ...]``: the peers alone, on a private redis-server."""

from __future__ import annotations

import argparse
import time

from benchmarks.redis_server import RedisServer
from benchmarks.results import Measurement

from . import PEERS, run_peers


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def print_table(results: list[Measurement]) -> None:
    print(f"{'system':<18} {'scenario':<8} {'median':>8} {'min':>8} {'max':>8}  unit    settings")
    for result in results:
        figures = " ".join(f"{_figure(v):>8}" for v in (result.median, result.low, result.high))
        settings = result.params.get("worker") or result.params.get("enqueue") or ""
        print(f"{result.system:<18} {result.scenario:<8} {figures}  {result.unit:<6}  {settings}")
    for result in results:
        if result.error:
            print(f"\n{result.system} {result.scenario} failed: {result.error}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("peers", nargs="*", metavar="PEER", help=f"of {', '.join(PEERS)} (all)")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per peer")
    args = parser.parse_args()
    if unknown := set(args.peers) - set(PEERS):
        parser.error(f"unknown peer(s): {', '.join(sorted(unknown))}")
    started = time.monotonic()
    with RedisServer() as url:
        results = run_peers(
            url,
            jobs=args.jobs,
            runs=args.runs,
            timeout=args.timeout,
            peers=args.peers or list(PEERS),
        )
    print_table(results)
    elapsed = time.monotonic() - started
    print(f"\n{args.jobs} jobs x {args.runs} runs per peer; wall time {elapsed:.0f} s")


if __name__ == "__main__":
    main()
