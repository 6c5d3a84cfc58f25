"""``queued-jobs logs``: what a job printed, from a position, with a line for what its
record no longer holds; and, in a real process beside a worker process, what a running job
prints, live, until it ends (the exit code says how), or until Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from queued_jobs import QueuedJob
from queued_jobs.models import OUTPUT_TAIL_LIMIT
from tests import cli_app
from tests.support.cli import Invoke
from tests.support.processes import stop_all

ROOT = Path(__file__).resolve().parents[2]
#: How long a process gets to show what the test waits for (a busy machine is slow).
BOUND = 60.0


def finished(request: dict[str, Any], *, owner: str = "ada") -> QueuedJob:
    """A ``chatter`` job run to its end by an inline client of the test app."""

    async def run() -> QueuedJob:
        async with cli_app.app.client(inline=True) as client:
            return await client.queue_job("chatter", request, owner=owner)

    return asyncio.run(run())


def queued(request: dict[str, Any]) -> str:
    async def queue() -> str:
        async with cli_app.app.client() as client:
            return (await client.queue_job("chatter", request, owner="ada")).id

    return asyncio.run(queue())


class Process:
    """A command-line process whose standard output is read as it comes."""

    def __init__(self, *args: str) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "queued_jobs", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.out = b""

    def read_until(self, text: str) -> str:
        """Standard output so far, once it holds ``text`` (``BOUND`` seconds at most)."""
        assert self.popen.stdout is not None
        deadline = time.monotonic() + BOUND
        while text.encode() not in self.out:
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in {self.out!r}"
            ready, _, _ = select.select([self.popen.stdout], [], [], left)
            if ready:
                chunk = os.read(self.popen.stdout.fileno(), 65536)
                assert chunk, f"the process ended without {text!r}: {self.out!r}"
                self.out += chunk
        return self.out.decode()

    def finish(self) -> tuple[int, str, str]:
        """Its exit code, all of its standard output and its standard error."""
        out, err = self.popen.communicate(timeout=BOUND)
        return self.popen.returncode, (self.out + out).decode(), err.decode()


@pytest.fixture
def worker_process(database: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``queued-jobs worker`` on the test app's database, in a process of its own."""
    process = subprocess.Popen(
        [sys.executable, "-m", "queued_jobs", "worker"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield process
    stop_all([process])


# --- what a job printed ------------------------------------------------------------------


def test_logs_prints_what_a_finished_job_printed(invoke: Invoke) -> None:
    job = finished({"lines": 3})

    result = invoke("logs", job.id)

    assert result.exit_code == 0, result.output
    assert result.stdout == "chatter 0\nchatter 1\nchatter 2\n"


def test_logs_after_a_position_prints_only_what_followed_it(invoke: Invoke) -> None:
    job = finished({"lines": 3})

    result = invoke("logs", job.id, "--after", str(len("chatter 0\n")))

    assert result.stdout == "chatter 1\nchatter 2\n"


def test_what_the_record_no_longer_holds_is_a_line_saying_how_much(invoke: Invoke) -> None:
    job = finished({"lines": 2_000})  # 21,780 characters
    printed = sum(len(f"chatter {n}\n") for n in range(2_000))

    result = invoke("logs", job.id)

    first, rest = result.stdout.split("\n", 1)
    kept = len(rest)
    assert first == f"[… {printed - kept:,} characters not kept …]"
    assert kept <= OUTPUT_TAIL_LIMIT
    assert rest.startswith("chatter ")
    assert rest.endswith("chatter 1999\n")


def test_a_job_s_hostile_output_reaches_the_terminal_as_harmless_text(invoke: Invoke) -> None:
    first = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\x1b[0m \u202eevil\ttab\r\nbell\x07\n"
    job = finished({"lines": 0, "first": first})

    result = invoke("logs", job.id)

    assert result.stdout == "red \\u202eevil\ttab\nbell\ufffd\n"
    assert "\x1b" not in result.stdout


def test_a_job_that_printed_nothing_prints_nothing(invoke: Invoke) -> None:
    job = finished({"lines": 0})

    result = invoke("logs", job.id)

    assert (result.exit_code, result.stdout) == (0, "")


@pytest.mark.parametrize("job_id", ["0" * 29, "nope"], ids=["unknown", "malformed"])
def test_logs_of_no_job_says_so_and_exits_1(invoke: Invoke, job_id: str) -> None:
    result = invoke("logs", job_id, "--follow")

    assert result.exit_code == 1
    assert f"no job with id {job_id!r}" in result.stderr


@pytest.mark.parametrize("after", ["-1", "x", "9007199254740992"], ids=["negative", "text", "huge"])
def test_a_position_no_reader_can_have_is_a_usage_error(invoke: Invoke, after: str) -> None:
    job = finished({"lines": 1})

    result = invoke("logs", job.id, "--after", after)

    assert result.exit_code == 2
    assert "--after" in result.stderr


# --- following a running job -------------------------------------------------------------


@pytest.mark.usefixtures("worker_process")
def test_follow_prints_a_running_job_s_output_live_and_exits_0_once_it_succeeds() -> None:
    job_id = queued({"lines": 16, "pause": 0.5})
    follower = Process("logs", job_id, "--follow")

    early = follower.read_until("chatter 0\n")  # seen while the job still runs
    assert "chatter 15" not in early
    code, out, err = follower.finish()

    assert code == 0, err
    assert out == "".join(f"chatter {n}\n" for n in range(16))
    assert f"job {job_id} succeeded" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("worker_process")
def test_follow_exits_1_when_the_job_fails() -> None:
    job_id = queued({"lines": 2, "pause": 0.2, "fails": True})

    code, out, err = Process("logs", job_id, "--follow").finish()

    assert code == 1
    assert out == "chatter 0\nchatter 1\n"
    assert f"job {job_id} failed" in err


@pytest.mark.usefixtures("worker_process")
def test_ctrl_c_stops_following_cleanly_and_leaves_the_job_running(invoke: Invoke) -> None:
    job_id = queued({"lines": 1_000, "pause": 0.2})
    follower = Process("logs", job_id, "--follow")
    follower.read_until("chatter 1\n")

    follower.popen.send_signal(signal.SIGINT)
    code, _, err = follower.finish()

    assert code == 130
    assert "stopped following" in err
    assert "Traceback" not in err
    status = invoke("status", job_id, "--json")
    assert '"status": "running"' in status.stdout
    assert invoke("cancel", job_id).exit_code == 0
