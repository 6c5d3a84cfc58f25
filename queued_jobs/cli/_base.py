"""What every command shares: the group and its options, loading the app, running one
client in one event loop, and reporting errors in a sentence.

Every command finds the application with ``--app module:attribute`` (or the
``QUEUED_JOBS_APP`` environment variable), opens a client on its storage, does one thing
and closes the client, all in one ``asyncio.run``. Errors the user can fix are reported in
a sentence, never as a traceback: exit code 2 for bad input (click's usage errors), 1 for
an operation that failed (job not found, store unreachable, job failed while waiting).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from .. import __version__
from .._cli_views import follow, job_view, json_text, printable
from ..app import JobApp, load_app
from ..client import JobClient
from ..errors import (
    ConfigurationError,
    DuplicateJob,
    InvalidInput,
    JobNotFound,
    QueuedJobsError,
    StorageUnavailable,
)
from ..models import Attempt, JobStatus, QueuedJob
from ..telemetry.logs import configure_logging

__all__ = [
    "APP_ENV",
    "CENTURY",
    "Options",
    "cli",
    "console",
    "fail",
    "followed",
    "reported",
    "show_finished",
    "with_client",
]

#: The environment variable naming the app when ``--app`` is not given.
APP_ENV = "QUEUED_JOBS_APP"
#: The line width of tables written to a file or a pipe (a terminal sets its own).
_PIPED_WIDTH = 200
#: The most characters of an unknown job id an error repeats.
_SHOWN_ID = 64
#: The longest delay and purge age accepted (beyond, datetimes overflow).
CENTURY = timedelta(days=36_500)
T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    """The group's options, handed to every command."""

    app_path: str | None
    #: How many ``-v`` were given: 1 logs queued-jobs at debug level, 2 the Azure SDK too.
    verbose: int

    def app(self, path: str | None = None) -> JobApp:
        chosen = path or self.app_path
        if not chosen:
            raise click.UsageError(
                f"no app given: pass --app MODULE:ATTR or set {APP_ENV} "
                "(for example: --app myapp.jobs:app)"
            )
        if os.getcwd() not in sys.path:  # like `python -m`: apps in the current folder
            sys.path.insert(0, os.getcwd())
        try:
            return load_app(chosen)
        except ConfigurationError as exc:
            raise click.BadParameter(
                printable(str(exc), keep_newlines=True), param_hint="'--app'"
            ) from exc


def fail(message: str) -> NoReturn:
    """Stop with ``message`` (which may quote jobs and stores: shown printable)."""
    raise click.ClickException(printable(message, keep_newlines=True))


@contextmanager
def reported() -> Iterator[None]:
    """Turn queued-jobs errors (and an unusable store) into one-line click errors."""
    try:
        yield
    except InvalidInput as exc:  # UnknownJobType lists the registered types
        raise click.UsageError(
            printable(str(exc), keep_newlines=True), click.get_current_context(silent=True)
        ) from exc
    except DuplicateJob as exc:
        if exc.existing_job_id is None:  # another owner's job: nothing of it is shown
            fail(str(exc))
        fail(
            f"unique key {exc.unique_key!r} is held by job {exc.existing_job_id}, which has not "
            f"finished yet; see: queued-jobs status {exc.existing_job_id}"
        )
    except JobNotFound as exc:
        shown = exc.job_id if len(exc.job_id) <= _SHOWN_ID else exc.job_id[: _SHOWN_ID - 1] + "…"
        fail(f"no job with id {shown!r}")
    except StorageUnavailable as exc:
        fail(
            f"{exc}\nCheck that the job store is running and that the app's connection "
            "settings point at it, then try again."
        )
    except ConfigurationError as exc:
        fail(f"the app's storage cannot be used: {exc}")
    except QueuedJobsError as exc:
        fail(str(exc))
    except OSError as exc:  # a store file that cannot be created or opened
        fail(f"could not open the job store: {exc}")


def with_client(app: JobApp, action: Callable[[JobClient], Coroutine[Any, Any, T]]) -> T:
    """Run ``action`` on a client of ``app``, closed afterwards, in one event loop."""

    async def run() -> T:
        async with app.client() as client:
            return await action(client)

    with reported():
        return asyncio.run(run())


def console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:  # piped or captured: whole rows, not squeezed into 80 columns
        console.width = max(console.width, _PIPED_WIDTH)
    return console


def show_finished(job: QueuedJob, attempts: list[Attempt], *, as_json: bool) -> None:
    """Show a job followed to its end; exit 1 unless it succeeded."""
    if as_json:
        click.echo(json_text(job.model_dump(mode="json")))
    else:
        console().print(job_view(job, attempts))
    if job.status is not JobStatus.SUCCEEDED:
        raise click.exceptions.Exit(1)


async def followed(client: JobClient, job_id: str) -> tuple[QueuedJob, list[Attempt]]:
    job = await follow(client, job_id, console(stderr=True))
    return job, await client.list_attempts(job_id)


@click.group()
@click.version_option(__version__, prog_name="queued-jobs")
@click.option(
    "--app",
    "app_path",
    metavar="MODULE:ATTR",
    envvar=APP_ENV,
    show_envvar=True,
    help="The JobApp to use, e.g. myapp.jobs:app (':app' may be left out).",
)
@click.option(
    "-v",
    "--verbose",
    count=True,
    help="Log at debug level (the Azure SDK's requests stay at warnings; -vv logs them too).",
)
@click.pass_context
def cli(ctx: click.Context, app_path: str | None, verbose: int) -> None:
    """queued-jobs: background jobs on Azure Storage queues, tracked end to end."""
    handler = logging.StreamHandler()
    handler.setFormatter(_PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler])
    # The Azure SDK logs every HTTP request and response (headers included) at INFO and
    # DEBUG: a line or more per storage call, which would bury queued-jobs' own lines.
    logging.getLogger("azure").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    ctx.obj = Options(app_path, verbose)


#: ``--log-format`` of the long-running commands (``worker``, ``serve``).
log_format_option = click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="QUEUED_JOBS_LOG_FORMAT",
    show_envvar=True,
    help="How log lines are written to standard error: text, or one JSON object per line "
    "with the job's id, type, attempt and trace id (see docs/observability.md).",
)


def use_log_format(log_format: str, *, verbose: int, level: int = logging.INFO) -> None:
    """Log as ``log_format`` says from now on: ``level`` for queued-jobs' own lines (debug
    with ``-v``), warnings for the rest."""
    text = _PrintableFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    configure_logging(
        logging.DEBUG if verbose else logging.WARNING,
        format="json" if log_format == "json" else "text",
        text=text,
    )
    logging.getLogger("azure").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)
    if not verbose:
        logging.getLogger("queued_jobs").setLevel(level)


class _PrintableFormatter(logging.Formatter):
    """Log lines quote jobs (ids, hooks' errors, message bodies): shown printable."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), keep_newlines=True)
