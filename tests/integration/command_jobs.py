"""The command jobs the integration tests run: the programs in ``programs/``, registered
as an application would, on the test app (in-process workers, worker processes and the
API server all know them).

Files the programs and their output leave go to the folder of ``QJ_TEST_EVENTS`` (each
test's own temporary folder).
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from queued_jobs import AlreadyRunning
from queued_jobs.app import JobApp
from queued_jobs.commands import Command, ExitCodes, FileMode, LocalFile, Output
from queued_jobs.files.base import FileStore

PROGRAMS = Path(__file__).with_name("programs")
#: The file store container command output goes to.
OUTPUT_CONTAINER = "command-output"
#: The output store of each app built (by ``id(app)``): a test closes what it used.
_STORES: dict[int, FileStore] = {}


def output_store(app: JobApp) -> FileStore:
    """The store ``app``'s commands keep their output in (close it when done)."""
    return _STORES[id(app)]


def program(name: str) -> list[str]:
    return [str(PROGRAMS / f"{name}.py")]


def output_folder() -> Path:
    events = os.environ.get("QJ_TEST_EVENTS")
    return (Path(events).parent if events else Path(tempfile.gettempdir())) / "output"


def add_commands(app: JobApp) -> None:
    store = _STORES[id(app)] = app.files(OUTPUT_CONTAINER)
    folder = output_folder()
    python = sys.executable
    app.add(
        Command(
            job_type="tests.cmd.echo",
            program=python,
            args=program("echo"),
            allow_args=True,
            allow_env={"GREETING"},
            job_aware=True,
        )
    )
    app.add(
        Command(
            job_type="tests.cmd.shell",
            program='printf "%s\\n" "$0" "$@"',
            shell=True,
            allow_args=True,
        )
    )
    for mode in FileMode:
        app.add(
            Command(
                job_type=f"tests.cmd.chatty_{mode.value}",
                program=python,
                args=program("chatty"),
                allow_args=True,
                output=Output(
                    store=store,
                    file=LocalFile(str(folder / f"chatty-{mode.value}.log"), mode=mode),
                ),
            )
        )
    app.add(Command(job_type="tests.cmd.raw_bytes", program=python, args=program("raw_bytes")))
    app.add(
        Command(
            job_type="tests.cmd.exits",
            program=python,
            args=program("exits"),
            allow_args=True,
            max_attempts=3,
            exit_codes=ExitCodes(
                success=frozenset({0, 1}), retry=frozenset({75}), permanent=frozenset({2})
            ),
        )
    )
    app.add(
        Command(
            job_type="tests.cmd.tree",
            program=python,
            args=program("tree"),
            allow_env={"QJ_PIDS"},
            kill_after=timedelta(seconds=1),
            max_attempts=1,
            output=Output(store=store),
        )
    )
    app.add(
        Command(
            job_type="tests.cmd.aware",
            program=python,
            args=program("aware"),
            job_aware=True,
        )
    )
    app.add(
        Command(
            job_type="tests.cmd.exclusive",
            program=python,
            args=program("aware"),
            job_aware=True,
            already_running=AlreadyRunning.REFUSE,
        )
    )
