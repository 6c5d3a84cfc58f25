"""The ``queued-jobs`` command line: run a worker; start, inspect and steer jobs.

One module per command group: ``run`` (the worker), ``jobs`` (enqueue, status, list,
cancel, retry, purge), ``logs`` (what a job printed, followed live), ``dead_letters`` (the
bands' dead-letter and poison queues), ``queues`` (the bands' depths), ``limits``
(concurrency and rate limits), ``storage`` (create-storage), ``serve`` (the web API),
``api_keys`` (keys for the web API),
``schedules`` (recurring schedules), ``sequences`` (start, list, show, cancel), ``demo``;
``_base`` holds the group, its options and the error reporting every command shares.
"""

from __future__ import annotations

from . import (
    api_keys,
    dead_letters,
    demo,
    jobs,
    limits,
    logs,
    queues,
    run,
    schedules,
    sequences,
    serve,
    storage,
)
from ._base import APP_ENV, cli

__all__ = ["APP_ENV", "cli", "main"]

_COMMANDS = (
    api_keys,
    dead_letters,
    demo,
    jobs,
    limits,
    logs,
    queues,
    run,
    schedules,
    sequences,
    serve,
    storage,
)  # imported for the commands they register


def main() -> None:
    cli(prog_name="queued-jobs")
