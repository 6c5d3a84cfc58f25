"""A program's process group: started in a session of its own, stopped whole.

Each program starts as the leader of a new session and process group, so that everything
it starts (children, grandchildren) is in its group unless it leaves it on purpose
(``setsid``). Stopping sends ``SIGTERM`` to the whole group, waits up to a grace period for
the group to be gone, then sends ``SIGKILL`` to whatever is left. A process that left the
group is out of reach: such programs should be run under a supervisor of their own.

Linux and macOS (POSIX) only.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["GroupStop", "group_alive", "signal_name", "stop_group"]

_PROC: Final = Path("/proc")
#: How often a stopping group is looked at.
_POLL: Final = 0.02
#: How long a group that got SIGKILL is waited for (processes in uninterruptible sleep).
_AFTER_KILL: Final = 5.0


def signal_name(number: int) -> str:
    """``SIGTERM (15)``, or ``signal 77`` for a number without a name."""
    try:
        return f"{signal.Signals(number).name} ({number})"
    except ValueError:
        return f"signal {number}"


def _members_on_linux(pgid: int) -> bool | None:
    """Whether a live (not zombie) process is in group ``pgid``: ``None`` without /proc."""
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = (_PROC / entry / "stat").read_text()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def group_alive(pgid: int) -> bool:
    """Whether any live process is in process group ``pgid`` (a zombie waiting to be
    reaped does not count)."""
    members = _members_on_linux(pgid)
    if members is not None:
        return members
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, but not ours to signal
        return True
    return True


def _signal_group(pgid: int, number: int) -> bool:
    """Send ``number`` to the group; whether anybody was there to get it."""
    try:
        os.killpg(pgid, number)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _gone_within(pgid: int, seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while group_alive(pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL)
    return True


@dataclass(frozen=True, slots=True)
class GroupStop:
    """What stopping a process group took."""

    #: Whether any process was there to be sent ``SIGTERM``.
    terminated: bool
    #: Whether ``SIGKILL`` had to follow.
    killed: bool
    #: Whether processes were still there after ``SIGKILL`` (uninterruptible).
    stuck: bool

    def describe(self, kill_after: float) -> str:
        if not self.terminated:
            return "nothing of it was left to stop"
        told = "its process group was sent SIGTERM"
        if not self.killed:
            return told
        told += f", then SIGKILL {kill_after:g} s later"
        if self.stuck:
            told += " (some of it was still there after that)"
        return told


async def stop_group(pgid: int, *, kill_after: float) -> GroupStop:
    """``SIGTERM`` to the group, ``SIGKILL`` ``kill_after`` seconds later to what is left.
    Cancelled while it waits, it sends ``SIGKILL`` at once before the cancel goes on: a
    group it began to stop is never left half stopped."""
    if not _signal_group(pgid, signal.SIGTERM):
        return GroupStop(terminated=False, killed=False, stuck=False)
    try:
        if await _gone_within(pgid, kill_after):
            return GroupStop(terminated=True, killed=False, stuck=False)
    except asyncio.CancelledError:
        _signal_group(pgid, signal.SIGKILL)
        raise
    _signal_group(pgid, signal.SIGKILL)
    gone = await _gone_within(pgid, _AFTER_KILL)
    return GroupStop(terminated=True, killed=True, stuck=not gone)
