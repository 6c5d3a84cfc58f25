"""Processes by pid: whether one is still there (a zombie waiting to be reaped is not)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["alive", "pids_in"]


def alive(pid: int) -> bool:
    """Whether process ``pid`` is running (not gone, and not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    state = stat[stat.rfind(")") + 2 :].split()[0]
    return state not in ("Z", "X")


def pids_in(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]
