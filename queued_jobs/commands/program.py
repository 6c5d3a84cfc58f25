"""For job-aware Python programs: the job's request, progress and result in one call each.

::

    from queued_jobs.commands import program

    request = program.request()          # the job's request, read from standard input
    program.progress(40, "copying files")
    program.result({"rows": 1200})

It only prints protocol lines (``::progress ...``, ``::result ...``; see
:mod:`queued_jobs.commands.protocol`) and flushes, so it works in any program started by a
command with ``job_aware=True``. Run outside a job (no ``QUEUED_JOBS_JOB_ID``), it prints
the same lines, which are then plain output. Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

__all__ = ["attempt", "input", "job_id", "progress", "request", "result"]

_request: dict[str, Any] | None = None


def job_id() -> str | None:
    """The id of the job this program runs for (``None`` outside a job)."""
    return os.environ.get("QUEUED_JOBS_JOB_ID")


def attempt() -> int:
    """Which attempt at the job this run is, from 1 (1 outside a job)."""
    return int(os.environ.get("QUEUED_JOBS_ATTEMPT", "1"))


def request() -> dict[str, Any]:
    """The job's request (``args``, ``env``, ``input``), read once from standard input.
    Outside a job, or with nothing on standard input, an empty request."""
    global _request
    if _request is None:
        text = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        _request = json.loads(text) if text.strip() else {"args": [], "env": {}, "input": None}
    return _request


def input() -> Any:
    """The JSON the request handed the program (its ``input``)."""
    return request().get("input")


def progress(percent: float, message: str | None = None) -> None:
    """Report how far the job is (0 to 100), with an optional one-line message."""
    if not 0 <= percent <= 100:
        raise ValueError(f"progress is 0 to 100, not {percent}")
    line = f"::progress {percent:g}"
    if message:
        line += " " + " ".join(message.split())
    _say(line)


def result(value: Any) -> None:
    """Set the job's result (any JSON value); it counts if the program then succeeds."""
    _say("::result " + json.dumps(value, separators=(",", ":"), allow_nan=False))


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
