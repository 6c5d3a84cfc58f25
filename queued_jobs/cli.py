"""The ``queued-jobs`` command line: run a worker; start, inspect and steer jobs.

Every command finds the application with ``--app module:attribute`` (or the
``QUEUED_JOBS_APP`` environment variable), opens a client on its storage, does one thing
and closes the client, all in one ``asyncio.run``. Errors the user can fix are reported in
a sentence, never as a traceback: exit code 2 for bad input (click's usage errors), 1 for
an operation that failed (job not found, store unreachable, job failed while waiting).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from . import __version__
from ._cli_views import follow, job_table, job_view
from .app import JobApp, load_app
from .client import JobClient
from .errors import (
    ConfigurationError,
    DuplicateJob,
    InvalidInput,
    InvalidTransition,
    JobNotFound,
    QueuedJobsError,
    StorageUnavailable,
)
from .models import Attempt, JobStatus, Priority, QueuedJob
from .repositories.base import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, JobQuery
from .worker import WorkerSettings, run_until_signalled

__all__ = ["APP_ENV", "cli", "main"]

#: The environment variable naming the app when ``--app`` is not given.
APP_ENV = "QUEUED_JOBS_APP"
#: The line width of tables written to a file or a pipe (a terminal sets its own).
_PIPED_WIDTH = 200
#: The longest delay and purge age accepted (beyond, datetimes overflow).
_CENTURY = timedelta(days=36_500)
T = TypeVar("T")


@dataclass(frozen=True)
class _Options:
    """The group's options, handed to every command."""

    app_path: str | None
    verbose: bool

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
            raise click.BadParameter(str(exc), param_hint="'--app'") from exc


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


@contextmanager
def _reported() -> Iterator[None]:
    """Turn queued-jobs errors (and an unusable store) into one-line click errors."""
    try:
        yield
    except InvalidInput as exc:  # UnknownJobType lists the registered types
        raise click.UsageError(str(exc), click.get_current_context(silent=True)) from exc
    except DuplicateJob as exc:
        _fail(
            f"unique key {exc.unique_key!r} is held by job {exc.existing_job_id}, which has not "
            f"finished yet; see: queued-jobs status {exc.existing_job_id}"
        )
    except JobNotFound as exc:
        _fail(f"no job with id {exc.job_id!r}")
    except StorageUnavailable as exc:
        _fail(
            f"{exc}\nCheck that the job store is running and that the app's connection "
            "settings point at it, then try again."
        )
    except ConfigurationError as exc:
        _fail(f"the app's storage cannot be used: {exc}")
    except QueuedJobsError as exc:
        _fail(str(exc))
    except OSError as exc:  # a store file that cannot be created or opened
        _fail(f"could not open the job store: {exc}")


def _with_client(app: JobApp, action: Callable[[JobClient], Coroutine[Any, Any, T]]) -> T:
    """Run ``action`` on a client of ``app``, closed afterwards, in one event loop."""

    async def run() -> T:
        async with app.client() as client:
            return await action(client)

    with _reported():
        return asyncio.run(run())


def _console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:  # piped or captured: whole rows, not squeezed into 80 columns
        console.width = max(console.width, _PIPED_WIDTH)
    return console


def _show_finished(job: QueuedJob, attempts: list[Attempt], *, as_json: bool) -> None:
    """Show a job followed to its end; exit 1 unless it succeeded."""
    if as_json:
        click.echo(job.model_dump_json(indent=2))
    else:
        _console().print(job_view(job, attempts))
    if job.status is not JobStatus.SUCCEEDED:
        raise click.exceptions.Exit(1)


async def _followed(client: JobClient, job_id: str) -> tuple[QueuedJob, list[Attempt]]:
    job = await follow(client, job_id, _console(stderr=True))
    return job, await client.list_attempts(job_id)


# --- the group ---------------------------------------------------------------------------


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
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
@click.pass_context
def cli(ctx: click.Context, app_path: str | None, verbose: bool) -> None:
    """queued-jobs: background jobs on Azure Storage queues, tracked end to end."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = _Options(app_path, verbose)


@cli.command()
@click.argument("app_path", metavar="[APP]", required=False)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Jobs run at once.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds running jobs get to finish on stop.",
)
@click.option("--identity", default=None, help="Worker identity (default host:pid).")
@click.pass_obj
def worker(
    options: _Options, app_path: str | None, concurrency: int, grace: float, identity: str | None
) -> None:
    """Run jobs until SIGTERM or SIGINT.

    APP (module:attribute of a JobApp) defaults to the global --app.
    """
    if not options.verbose:
        logging.getLogger("queued_jobs").setLevel(logging.INFO)
    app = options.app(app_path)
    settings = WorkerSettings(concurrency=concurrency, shutdown_grace=timedelta(seconds=grace))

    async def serve() -> None:
        host = app.worker(settings, identity=identity)
        try:
            await run_until_signalled(host)
        finally:
            await host.close()

    with _reported():
        asyncio.run(serve())


# --- starting jobs -------------------------------------------------------------------------


def _read_request(text: str | None) -> Any:
    """The request given on the command line (``-``: standard input), parsed as JSON."""
    if text is None:
        return None
    source = "standard input" if text == "-" else "REQUEST_JSON"
    if text == "-":
        text = sys.stdin.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            param_hint="'REQUEST_JSON'",
        ) from exc


@cli.command()
@click.argument("job_type")
@click.argument("request_json", metavar="[REQUEST_JSON | -]", required=False)
@click.option("--owner", required=True, help="Who the job is for (a user, a tenant).")
@click.option(
    "--priority",
    type=click.Choice([p.value for p in Priority]),
    default=Priority.NORMAL.value,
    show_default=True,
)
@click.option(
    "--delay",
    type=click.FloatRange(0, _CENTURY.total_seconds()),
    metavar="SECONDS",
    help="Start no sooner than SECONDS from now.",
)
@click.option("--unique-key", help="Refuse the job while another with this key is unfinished.")
@click.option(
    "--max-attempts", type=click.IntRange(1, 1000), metavar="N", help="Attempts before giving up."
)
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for more).")
@click.option("--wait", is_flag=True, help="Follow the job to its end, like status --wait.")
@click.pass_obj
def enqueue(
    options: _Options,
    job_type: str,
    request_json: str | None,
    owner: str,
    priority: str,
    delay: float | None,
    unique_key: str | None,
    max_attempts: int | None,
    tags: tuple[str, ...],
    wait: bool,
) -> None:
    """Queue a job of JOB_TYPE with a JSON request (- reads it from standard input).

    Prints the new job's id.
    """
    app = options.app()
    request = _read_request(request_json)

    async def queue(client: JobClient) -> tuple[QueuedJob, list[Attempt]] | None:
        job = await client.queue_job(
            job_type,
            request,
            owner=owner,
            priority=Priority(priority),
            delay=None if delay is None else timedelta(seconds=delay),
            unique_key=unique_key,
            max_attempts=max_attempts,
            tags=tags,
        )
        click.echo(job.id)
        return await _followed(client, job.id) if wait else None

    followed = _with_client(app, queue)
    if followed is not None:
        _show_finished(*followed, as_json=False)


# --- reading jobs --------------------------------------------------------------------------


@cli.command()
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Show a live progress bar until the job ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the job's record as JSON.")
@click.pass_obj
def status(options: _Options, job_id: str, wait: bool, as_json: bool) -> None:
    """Show a job: status, attempts, progress, times, result or error.

    With --wait, exits 0 if the job succeeded and 1 if it failed or was cancelled.
    """
    app = options.app()
    if wait:
        finished, attempts = _with_client(app, lambda client: _followed(client, job_id))
        _show_finished(finished, attempts, as_json=as_json)
        return

    async def read(client: JobClient) -> tuple[QueuedJob, list[Attempt]]:
        job = await client.get_job(job_id)
        return job, await client.list_attempts(job_id)

    job, attempts = _with_client(app, read)
    if as_json:
        click.echo(job.model_dump_json(indent=2))
    else:
        _console().print(job_view(job, attempts))


async def _owner_jobs(
    client: JobClient, owner: str, query: JobQuery, limit: int
) -> list[QueuedJob]:
    """An owner's newest jobs that match ``query``, reading pages until ``limit`` are found."""
    found: list[QueuedJob] = []
    continuation: str | None = None
    while True:
        page = await client.repository.list_by_owner(owner, limit=limit, continuation=continuation)
        found.extend(job for job in page.items if query.matches(job))
        continuation = page.continuation
        if len(found) >= limit or continuation is None:
            return found[:limit]


@cli.command("list")
@click.option("--owner", help="Only this owner's jobs.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in JobStatus]),
    help="Only jobs in this status (repeat for more).",
)
@click.option("--type", "job_type", help="Only jobs of this type.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_PAGE_SIZE),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    help="At most this many jobs.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
@click.pass_obj
def list_command(
    options: _Options,
    owner: str | None,
    statuses: tuple[str, ...],
    job_type: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List jobs, newest first."""
    app = options.app()
    query = JobQuery(statuses=frozenset(JobStatus(s) for s in statuses), job_type=job_type)

    async def read(client: JobClient) -> list[QueuedJob]:
        if owner is not None:
            return await _owner_jobs(client, owner, query, limit)
        page = await client.repository.list_jobs(query, limit=limit)
        return list(page.items)

    jobs = _with_client(app, read)
    if as_json:
        click.echo(json.dumps([job.model_dump(mode="json") for job in jobs], indent=2))
    elif jobs:
        _console().print(job_table(jobs))
    else:
        click.echo("no jobs")


# --- steering jobs -------------------------------------------------------------------------


@cli.command()
@click.argument("job_id")
@click.pass_obj
def cancel(options: _Options, job_id: str) -> None:
    """Cancel a job: a waiting one at once, a running one at its next lease renewal."""
    job = _with_client(options.app(), lambda client: client.cancel(job_id))
    if job.status is JobStatus.CANCELLED:
        click.echo(f"cancelled job {job.id}")
    elif job.cancel_requested and not job.is_terminal:
        click.echo(f"asked job {job.id} to stop; it is cancelled at its next lease renewal")
    else:
        _fail(f"job {job.id} already finished ({job.status}): nothing to cancel")


@cli.command()
@click.argument("job_id")
@click.option(
    "--attempts", type=click.IntRange(1, 1000), default=1, show_default=True, help="More attempts."
)
@click.pass_obj
def retry(options: _Options, job_id: str, attempts: int) -> None:
    """Queue a failed or cancelled job again."""

    async def queue_again(client: JobClient) -> QueuedJob:
        try:
            return await client.retry(job_id, attempts=attempts)
        except InvalidTransition as exc:
            _fail(f"only failed or cancelled jobs can be retried; job {job_id} is {exc.current}")

    job = _with_client(options.app(), queue_again)
    click.echo(f"queued job {job.id} again ({attempts} more attempt{'s' if attempts > 1 else ''})")


@cli.command()
@click.option(
    "--older-than",
    "days",
    type=click.FloatRange(0, _CENTURY.days),
    required=True,
    help="Delete finished jobs that completed more than DAYS days ago.",
    metavar="DAYS",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def purge(options: _Options, days: float, yes: bool) -> None:
    """Delete finished jobs (succeeded, failed, cancelled) and their attempts."""
    app = options.app()
    cutoff = app.clock.now() - timedelta(days=days)
    if not yes:
        click.confirm(
            f"Delete every finished job that completed before {cutoff:%Y-%m-%d %H:%M:%S} UTC?",
            abort=True,
        )
    count = _with_client(app, lambda client: client.repository.purge(completed_before=cutoff))
    click.echo(f"purged {count} job{'' if count == 1 else 's'}")


@cli.command("create-storage")
@click.pass_obj
def create_storage(options: _Options) -> None:
    """Create the app's job table (or schema) and every queue it uses, if missing."""
    app = options.app()
    _with_client(app, lambda client: client.create_storage())
    bands = ", ".join(app.queues.bands)
    click.echo(f"storage ready: jobs table and queues {bands} (with their poison queues)")


# --- the demo ------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the demo keeps its SQLite file and files (default: a new temporary "
    "directory). Must be empty or not exist yet.",
)
def demo(directory: Path | None) -> None:
    """Run a realistic mix of jobs on the embedded SQLite backend and show them live.

    Zip builds over sample documents (with signed download links), a job that fails twice
    then succeeds, a permanent failure, a refused duplicate, a delayed job, a cancelled
    job and jobs reporting progress, run by a worker in this process. Exits 0 when every
    job ended as it should.
    """
    from .demo import run_demo

    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="queued-jobs-demo-"))
    elif directory.exists() and any(directory.iterdir()):
        _fail(f"{directory} is not empty; give the demo an empty or new directory")
    directory.mkdir(parents=True, exist_ok=True)
    with _reported():
        if not asyncio.run(run_demo(directory, _console())):
            sys.exit(1)


def main() -> None:
    cli(prog_name="queued-jobs")
