"""Console programs as jobs: a program registered under a job type, its output captured
while it streams, its exit code counted as its registration says, its whole process tree
stopped on cancellation and time-out, and a line protocol for programs that report back.

::

    from queued_jobs.commands import Command, ExitCodes, Output

    app.registry.add(
        Command(
            job_type="reports.nightly_export",
            program="/usr/local/bin/export-report",
            args=["--format", "csv"],
            allow_args=True,
            max_run_time=timedelta(minutes=30),
            exit_codes=ExitCodes(retry=frozenset({75}), permanent=frozenset({2})),
            output=Output(store=app.files("command-output")),
            job_aware=True,
        )
    )
    await client.queue_job("reports.nightly_export", {"args": ["--since", "2026-11-01"]})

See ``docs/commands.md``; :mod:`queued_jobs.commands.program` is the helper for job-aware
Python programs.
"""

from ..errors import CommandFailed, CommandFailedPermanently
from .options import ExitCodes, FileMode, LocalFile, Output
from .registration import Command
from .request import DEFAULT_INHERITED, INHERIT_ALL, CommandRequest
from .result import CommandResult, StoredOutput

__all__ = [
    "DEFAULT_INHERITED",
    "INHERIT_ALL",
    "Command",
    "CommandFailed",
    "CommandFailedPermanently",
    "CommandRequest",
    "CommandResult",
    "ExitCodes",
    "FileMode",
    "LocalFile",
    "Output",
    "StoredOutput",
]
