"""Stopping the processes a test started: SIGTERM to all, then each waited for, killed if
it does not end in time."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable

__all__ = ["stop_all"]


def stop_all(processes: Iterable[subprocess.Popen[bytes]], *, grace: float = 15.0) -> None:
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
