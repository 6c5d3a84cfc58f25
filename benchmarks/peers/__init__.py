"""Popular Python job queues on Redis, measured by the same rules as ours.

Each peer runs in its own virtualenv (see ``venvs``) through its ``<peer>_bench.py`` script,
which enqueues N no-op jobs (scenario "enqueue") and then has the peer's fastest documented
single-process worker drain them (scenario "drain"); ``peer_common`` holds the rules.
``run_peers`` never raises for a peer: one that fails to install or run comes back as
Measurements with ``error`` set.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.results import Measurement

from .venvs import VenvError, ensure_venv

__all__ = ["PEERS", "run_peers"]

PEERS_DIR = Path(__file__).resolve().parent
WORK = PEERS_DIR.parent / ".work" / "peers"
#: Peer (its venv and script name) -> the name shown in reports.
PEERS: dict[str, str] = {
    "huey": "huey",
    "celery": "Celery",
    "taskiq": "taskiq",
    "rq": "RQ",
    "dramatiq": "Dramatiq",
}
SCENARIOS = ("drain", "enqueue")


def _measurements(peer: str, jobs: int, lines: list[dict[str, Any]]) -> list[Measurement]:
    system = f"{PEERS[peer]} (Redis)"
    found = []
    for scenario in SCENARIOS:
        mine = [line for line in lines if line.get("scenario") == scenario]
        params: dict[str, Any] = {"jobs": jobs}
        if mine:
            params["worker" if scenario == "drain" else "enqueue"] = mine[-1]["settings"]
        runs = [float(line["jobs_per_s"]) for line in mine]
        found.append(Measurement(scenario, system, "jobs/s", runs=runs, params=params))
    return found


def _parse(stdout: str) -> list[dict[str, Any]]:
    lines = []
    for text in stdout.splitlines():
        if text.startswith("{"):
            try:
                lines.append(json.loads(text))
            except json.JSONDecodeError:
                continue
    return lines


def _kill_group(pid: int) -> None:
    """SIGKILL whatever is left of the script's process group (its worker, say)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _worker_log(peer: str) -> str:
    """The tail of the newest worker log, when a timed-out script could not report it."""
    logs = sorted((WORK / peer).glob("worker-*.log"), key=lambda path: path.stat().st_mtime)
    return f"\n{logs[-1].name}: {logs[-1].read_text(errors='replace')[-1000:]}" if logs else ""


def _run_script(
    peer: str, python: Path, redis_url: str, jobs: int, runs: int, timeout: float
) -> tuple[str, str | None]:
    """The script's stdout, and why it failed if it did."""
    inner = max(timeout - 5.0, timeout * 0.75)  # its own deadline, to report before we kill it
    command = [str(python), str(PEERS_DIR / f"{peer}_bench.py"), "--redis-url", redis_url]
    command += ["--jobs", str(jobs), "--runs", str(runs), "--timeout", str(inner)]
    command += ["--work-dir", str(WORK / peer)]
    for stale in (WORK / peer).glob("worker-*.log"):
        stale.unlink()
    process = subprocess.Popen(
        command,
        cwd=PEERS_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: one killpg ends it and its worker
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        stdout, stderr = process.communicate()
        return stdout, f"timed out after {timeout:.0f} s\n{stderr[-1000:]}{_worker_log(peer)}"
    finally:
        _kill_group(process.pid)
    if process.returncode != 0:
        return stdout, f"exit {process.returncode}\n{stderr[-2000:]}"
    return stdout, None


def run_peer(
    peer: str, redis_url: str, *, jobs: int = 5000, runs: int = 3, timeout: float = 120
) -> list[Measurement]:
    """One peer's "drain" and "enqueue" Measurements, ``error`` set if it could not run."""
    try:
        python = ensure_venv(peer)
    except VenvError as install_error:
        failed = _measurements(peer, jobs, [])
        for measurement in failed:
            measurement.error = f"could not install {peer}: {install_error}"
        return failed
    stdout, error = _run_script(peer, python, redis_url, jobs, runs, timeout)
    measurements = _measurements(peer, jobs, _parse(stdout))
    for measurement in measurements:
        short = len(measurement.runs) != runs
        measurement.error = error or (f"{len(measurement.runs)} of {runs} runs" if short else None)
    return measurements


def run_peers(
    redis_url: str,
    *,
    jobs: int = 5000,
    runs: int = 3,
    timeout: float = 120,
    peers: Sequence[str] = tuple(PEERS),
) -> list[Measurement]:
    """Every peer in turn against ``redis_url``, each bounded by ``timeout`` seconds of running
    (building its venv, when needed, is bounded separately)."""
    results: list[Measurement] = []
    for peer in peers:
        results += run_peer(peer, redis_url, jobs=jobs, runs=runs, timeout=timeout)
    return results
