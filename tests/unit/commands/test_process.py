"""Stopping a program's process group: SIGTERM, then SIGKILL for what stays."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest

from queued_jobs.commands.process import group_alive, signal_name, stop_group

Start = Callable[[str], subprocess.Popen[bytes]]


@pytest.fixture
def start() -> Iterator[Start]:
    """``start(script)``: ``sh -c script`` as the leader of a group of its own, once it
    printed ``ready``; whatever is left of it is killed after the test."""
    started: list[subprocess.Popen[bytes]] = []

    def run(script: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            ["/bin/sh", "-c", script], start_new_session=True, stdout=subprocess.PIPE
        )
        started.append(process)
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        return process

    yield run
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


@pytest.mark.asyncio
async def test_a_group_that_goes_on_sigterm_is_not_killed(start: Start) -> None:
    process = start("echo ready; exec sleep 60")
    stopped = await stop_group(process.pid, kill_after=30)
    assert (stopped.terminated, stopped.killed, stopped.stuck) == (True, False, False)
    assert process.wait(10) == -15
    assert stopped.describe(30) == "its process group was sent SIGTERM"


@pytest.mark.asyncio
async def test_what_ignores_sigterm_is_killed_after_the_grace(start: Start) -> None:
    # the shell and its child both ignore SIGTERM (an ignored signal stays ignored on exec)
    process = start("trap '' TERM; echo ready; sleep 60")
    stopped = await stop_group(process.pid, kill_after=0.2)
    assert (stopped.terminated, stopped.killed, stopped.stuck) == (True, True, False)
    assert process.wait(10) == -9
    assert not group_alive(process.pid)
    assert "then SIGKILL 0.2 s later" in stopped.describe(0.2)


@pytest.mark.asyncio
async def test_a_group_already_gone_needs_nothing(start: Start) -> None:
    process = start("echo ready")
    process.wait(10)
    assert not group_alive(process.pid)
    stopped = await stop_group(process.pid, kill_after=1)
    assert stopped.terminated is False
    assert stopped.describe(1) == "nothing of it was left to stop"


@pytest.mark.asyncio
async def test_cancelled_while_it_waits_it_kills_the_group_at_once(start: Start) -> None:
    process = start("trap '' TERM; echo ready; sleep 60")
    stopping = asyncio.create_task(stop_group(process.pid, kill_after=60))
    await asyncio.sleep(0)  # SIGTERM sent, waiting for the group to go
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert process.wait(10) == -9


def test_signals_are_named_with_their_number() -> None:
    assert signal_name(9) == "SIGKILL (9)"
    assert signal_name(200) == "signal 200"
