"""What every ``<peer>_bench.py`` shares: the job body, the worker process and the run loop.

Runs inside each peer's own virtualenv, so it uses the standard library and the ``redis``
client (which every peer installs) and nothing of ours.

The rules are the same for every peer:

* enqueue: ``N`` single enqueue calls, each job taking its index; the calls are timed.
* drain: those ``N`` jobs wait in a freshly flushed Redis DB; then the peer's worker starts
  as its own process. Job 0 records when it starts, job ``N - 1`` when it ends (the only
  I/O a job does); the driver waits until the peer reports every job done, stops the
  worker and reads both times: throughput = ``(N - 1) / (end - start)``.

Each run prints one JSON line per scenario on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
URL_ENV = "BENCH_REDIS_URL"
JOBS_ENV = "BENCH_JOBS"
TIMES_ENV = "BENCH_TIMES_FILE"
STOP_GRACE = 30.0

# Read once when a worker imports this module (the driver sets them before it starts one).
_LAST = int(os.environ.get(JOBS_ENV, "0")) - 1
_TIMES = os.environ.get(TIMES_ENV, "")


def mark(index: int) -> None:
    """The whole body of a benchmark job: index 0 notes its start, index N-1 its end."""
    if index == 0:
        _note("start")
    elif index == _LAST:
        _note("end")


def _note(label: str) -> None:
    now = time.time()
    with open(_TIMES, "a") as out:
        out.write(f"{label} {now!r}\n")


def redis_url() -> str:
    return os.environ.get(URL_ENV, "redis://127.0.0.1:6379/0")


def venv_bin(name: str) -> str:
    """A console script of the running venv (huey_consumer, celery, rq...)."""
    return str(Path(sys.executable).parent / name)


def timed_calls(call: Callable[[int], object], jobs: int) -> float:
    """Seconds that ``call(0) ... call(jobs - 1)`` take, one after the other."""
    started = time.perf_counter()
    for index in range(jobs):
        call(index)
    return time.perf_counter() - started


class WorkerFailed(RuntimeError):
    """The worker failed, or the peer did not report the jobs done in time."""


class Worker:
    """The peer's worker process, in the driver's process group, its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, deadline: float) -> None:
        self.command, self.log, self.deadline = command, log, deadline
        env = {**os.environ, **env, "PYTHONPATH": str(HERE), "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, cwd=HERE, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def fail(self, why: str) -> WorkerFailed:
        return WorkerFailed(f"{why}\n$ {' '.join(self.command)}\n{self.tail()}")

    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        """Poll ``done`` (the peer's own API) every 50 ms until it holds."""
        while not done():
            if self.process.poll() is not None:
                raise self.fail(f"worker exited ({self.process.returncode}) before {what}")
            if time.monotonic() > self.deadline:
                raise self.fail(f"timed out waiting for {what}")
            time.sleep(0.05)

    def wait_exit(self) -> int:
        """Wait for a worker that stops by itself (RQ's burst mode); its exit code."""
        try:
            return self.process.wait(timeout=max(self.deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            raise self.fail("timed out waiting for the worker to exit") from None

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Ask the worker to stop with ``sig`` (its graceful one), SIGKILL it if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass(frozen=True)
class Peer:
    """One peer's side of the benchmark, defined at the bottom of its ``<peer>_bench.py``."""

    #: How the jobs are enqueued, for the report.
    enqueue_settings: str
    #: N single enqueue calls of jobs 0..N-1, in that order; returns the seconds they took.
    enqueue: Callable[[int], float]
    #: The worker's command line, run from this directory; it is also the reported setting.
    worker_command: list[str]
    #: Block until the peer's own API reports every job done, stopping the worker on the way.
    wait_done: Callable[[Worker], None]
    #: Environment variables the worker's settings need, shown before its command.
    worker_env: dict[str, str] = field(default_factory=dict)
    #: A setting the command line does not show (an installed extra, say).
    note: str = ""

    @property
    def settings(self) -> str:
        """The worker command as one would type it, the Redis URL left out (its port varies)."""
        variables = [f"{name}={value}" for name, value in self.worker_env.items()]
        shown = [*variables, Path(self.worker_command[0]).name, *self.worker_command[1:]]
        command = " ".join(shown).replace(redis_url(), "$REDIS_URL")
        return f"{command} ({self.note})" if self.note else command


def _read_times(path: Path, worker: Worker) -> tuple[float, float]:
    notes = dict(line.split() for line in path.read_text().splitlines()) if path.exists() else {}
    if "start" not in notes or "end" not in notes:
        raise worker.fail(f"job 0 or job N-1 left no time in {path}: {notes}")
    return float(notes["start"]), float(notes["end"])


def _emit(scenario: str, jobs: int, seconds: float, counted: int, settings: str) -> None:
    line = {"scenario": scenario, "jobs": jobs, "seconds": seconds}
    line |= {"jobs_per_s": counted / seconds, "settings": settings}
    print(json.dumps(line), flush=True)


def _one_run(peer: Peer, jobs: int, work: Path, run: int, deadline: float) -> None:
    redis.Redis.from_url(redis_url()).flushdb()
    times = Path(os.environ[TIMES_ENV])
    times.unlink(missing_ok=True)
    _emit("enqueue", jobs, peer.enqueue(jobs), jobs, peer.enqueue_settings)
    worker = Worker(peer.worker_command, peer.worker_env, work / f"worker-{run}.log", deadline)
    try:
        peer.wait_done(worker)
    finally:
        worker.stop(signal.SIGKILL)
    start, end = _read_times(times, worker)
    _emit("drain", jobs, end - start, jobs - 1, peer.settings)


def main(module: str) -> None:
    """Entry point of ``<peer>_bench.py``: ``python <peer>_bench.py --redis-url URL ...``."""
    parser = argparse.ArgumentParser(description=f"enqueue and drain benchmark: {module}")
    parser.add_argument("--redis-url", default=redis_url())
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0, help="for all runs together")
    default_work = HERE.parent / ".work" / "peers" / module.removesuffix("_bench")
    parser.add_argument("--work-dir", type=Path, default=default_work)
    args = parser.parse_args()
    if args.jobs < 2:
        parser.error("--jobs must be at least 2")
    args.work_dir.mkdir(parents=True, exist_ok=True)
    times = str(args.work_dir.resolve() / "times.txt")
    os.environ |= {URL_ENV: args.redis_url, JOBS_ENV: str(args.jobs), TIMES_ENV: times}
    # Imported again by name, now that the environment is set, as the worker will import it.
    peer: Peer = importlib.import_module(module).PEER
    deadline = time.monotonic() + args.timeout
    try:
        for run in range(args.runs):
            _one_run(peer, args.jobs, args.work_dir, run, deadline)
    except WorkerFailed as error:
        sys.exit(f"{module}: {error}")
