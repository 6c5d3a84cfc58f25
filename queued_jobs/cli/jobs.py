"""Commands on jobs: start (``enqueue``), read (``status``, ``list``) and steer
(``cancel``, ``retry``, ``purge``)."""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from .._cli_views import job_table, job_view, json_text, printable
from ..client import JobClient
from ..errors import InvalidTransition, JobNotFound
from ..models import (
    MAX_ATTEMPTS,
    TERMINAL_STATUSES,
    Attempt,
    JobStatus,
    Priority,
    QueuedJob,
    UniqueScope,
)
from ..repositories.base import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, JobQuery
from ._base import CENTURY, Options, cli, console, fail, followed, show_finished, with_client
from ._types import duration, read_json, status_list

__all__ = ["cancel", "enqueue", "list_command", "purge", "retry", "status"]


# --- starting jobs -------------------------------------------------------------------------


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
    type=click.FloatRange(0, CENTURY.total_seconds()),
    metavar="SECONDS",
    help="Start no sooner than SECONDS from now.",
)
@click.option(
    "--unique-key", help="Refuse the job while another of the owner's with this key is unfinished."
)
@click.option(
    "--unique-scope",
    type=click.Choice([scope.value for scope in UniqueScope]),
    default=UniqueScope.OWNER.value,
    show_default=True,
    help="Whose jobs the unique key keeps apart: the owner's, or every owner's.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, MAX_ATTEMPTS),
    metavar="N",
    help="Attempts before giving up.",
)
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for more).")
@click.option("--wait", is_flag=True, help="Follow the job to its end, like status --wait.")
@click.pass_obj
def enqueue(
    options: Options,
    job_type: str,
    request_json: str | None,
    owner: str,
    priority: str,
    delay: float | None,
    unique_key: str | None,
    unique_scope: str,
    max_attempts: int | None,
    tags: tuple[str, ...],
    wait: bool,
) -> None:
    """Queue a job of JOB_TYPE with a JSON request (- reads it from standard input).

    Prints the new job's id.
    """
    app = options.app()
    request = read_json(request_json)

    async def queue(client: JobClient) -> tuple[QueuedJob, list[Attempt]] | None:
        job = await client.queue_job(
            job_type,
            request,
            owner=owner,
            priority=Priority(priority),
            delay=None if delay is None else timedelta(seconds=delay),
            unique_key=unique_key,
            unique_scope=UniqueScope(unique_scope),
            max_attempts=max_attempts,
            tags=tags,
        )
        click.echo(job.id)
        return await followed(client, job.id) if wait else None

    outcome = with_client(app, queue)
    if outcome is not None:
        show_finished(*outcome, as_json=False)


# --- reading jobs --------------------------------------------------------------------------


@cli.command()
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Show a live progress bar until the job ends.")
@click.option("--json", "as_json", is_flag=True, help="Print the job's record as JSON.")
@click.pass_obj
def status(options: Options, job_id: str, wait: bool, as_json: bool) -> None:
    """Show a job: status, attempts, progress, times, result or error.

    With --wait, exits 0 if the job succeeded and 1 if it failed or was cancelled.
    """
    app = options.app()
    if wait:
        finished, attempts = with_client(app, lambda client: followed(client, job_id))
        show_finished(finished, attempts, as_json=as_json)
        return

    async def read(client: JobClient) -> tuple[QueuedJob, list[Attempt]]:
        job = await client.get_job(job_id)
        return job, await client.list_attempts(job_id)

    job, attempts = with_client(app, read)
    if as_json:
        click.echo(json_text(job.model_dump(mode="json")))
    else:
        console().print(job_view(job, attempts))


async def _listed(
    client: JobClient, owner: str | None, query: JobQuery, limit: int
) -> tuple[list[QueuedJob], list[str]]:
    """The newest jobs that match, reading pages until ``limit`` are found (a page of a
    tag's jobs by status may hold fewer), and the ids of the rows passed over that could
    not be read."""
    found: list[QueuedJob] = []
    skipped: list[str] = []
    continuation: str | None = None
    while True:
        page = await client.list_jobs(
            owner=owner,
            statuses=query.statuses,
            job_type=query.job_type,
            tag=query.tag,
            limit=limit,
            continuation=continuation,
        )
        found.extend(page.items)
        skipped.extend(page.skipped)
        continuation = page.continuation
        if len(found) >= limit or continuation is None:
            return found[:limit], skipped


def _say_skipped(skipped: list[str]) -> None:
    """Name the rows a listing passed over, on standard error (standard output stays the
    listing)."""
    if not skipped:
        return
    rows = "record" if len(skipped) == 1 else "records"
    click.echo(
        f"skipped {len(skipped)} job {rows} that cannot be read: "
        f"{printable(', '.join(skipped))} "
        "(queued-jobs status ID says what is wrong)",
        err=True,
    )


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
@click.option("--tag", help="Only jobs with this tag.")
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
    options: Options,
    owner: str | None,
    statuses: tuple[str, ...],
    job_type: str | None,
    tag: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List jobs, newest first."""
    app = options.app()
    query = JobQuery(statuses=frozenset(JobStatus(s) for s in statuses), job_type=job_type, tag=tag)

    jobs, skipped = with_client(app, lambda client: _listed(client, owner, query, limit))
    _say_skipped(skipped)
    if as_json:
        click.echo(json_text([job.model_dump(mode="json") for job in jobs]))
    elif jobs:
        console().print(job_table(jobs))
    else:
        click.echo("no jobs")


# --- steering jobs -------------------------------------------------------------------------


@cli.command()
@click.argument("job_id")
@click.pass_obj
def cancel(options: Options, job_id: str) -> None:
    """Cancel a job: a waiting one at once, a running one at its next lease renewal."""
    job = with_client(options.app(), lambda client: client.cancel(job_id))
    if job.status is JobStatus.CANCELLED:
        click.echo(f"cancelled job {job.id}")
    elif job.cancel_requested and not job.is_terminal:
        click.echo(f"asked job {job.id} to stop; it is cancelled at its next lease renewal")
    else:
        fail(f"job {job.id} already finished ({job.status}): nothing to cancel")


@cli.command()
@click.argument("job_id")
@click.option(
    "--attempts",
    type=click.IntRange(1, MAX_ATTEMPTS),
    default=1,
    show_default=True,
    help=f"More attempts (at most {MAX_ATTEMPTS} in all, those used included).",
)
@click.pass_obj
def retry(options: Options, job_id: str, attempts: int) -> None:
    """Queue a failed or cancelled job again."""

    async def queue_again(client: JobClient) -> QueuedJob:
        try:
            return await client.retry(job_id, attempts=attempts)
        except InvalidTransition as exc:
            fail(f"only failed or cancelled jobs can be retried; job {job_id} is {exc.current}")

    job = with_client(options.app(), queue_again)
    click.echo(f"queued job {job.id} again ({attempts} more attempt{'s' if attempts > 1 else ''})")


@cli.command()
@click.option(
    "--older-than",
    "age",
    callback=duration(bare_unit="days", most=CENTURY),
    required=True,
    help="Delete finished jobs that completed longer ago than this: 90m, 6h, 1h30m, 2d "
    "(a bare number is days).",
    metavar="DURATION",
)
@click.option(
    "--status",
    "statuses",
    callback=status_list(TERMINAL_STATUSES),
    help="Only jobs that ended so: succeeded, failed, cancelled, comma-separated "
    "(default: all three).",
    metavar="STATUSES",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def purge(
    options: Options, age: timedelta, statuses: frozenset[JobStatus] | None, yes: bool
) -> None:
    """Delete finished jobs (succeeded, failed, cancelled) and their attempts."""
    app = options.app()
    cutoff = app.clock.now() - age
    chosen = statuses or TERMINAL_STATUSES
    which = (
        "finished"
        if chosen == TERMINAL_STATUSES
        else " or ".join(s.value for s in JobStatus if s in chosen)
    )
    if not yes:
        click.confirm(
            f"Delete every {which} job that completed before {cutoff:%Y-%m-%d %H:%M:%S} UTC?",
            abort=True,
        )

    async def delete(client: JobClient) -> int:
        if chosen == TERMINAL_STATUSES:
            return await client.repository.purge(completed_before=cutoff)
        return await _purge_some(client, chosen, cutoff)

    count = with_client(app, delete)
    click.echo(f"purged {count} job{'' if count == 1 else 's'}")


async def _purge_some(client: JobClient, statuses: frozenset[JobStatus], cutoff: datetime) -> int:
    """Delete the jobs in ``statuses`` (terminal ones) that completed before ``cutoff``,
    a page of the listing at a time; each is read again just before it is deleted, so that a
    job retried meanwhile is kept."""
    count = 0
    continuation: str | None = None
    while True:
        page = await client.list_jobs(
            statuses=statuses, limit=MAX_PAGE_SIZE, continuation=continuation
        )
        for listed in page.items:
            if not _purgeable(listed, statuses, cutoff):
                continue
            try:
                job = await client.get_job(listed.id)
            except JobNotFound:
                continue
            if _purgeable(job, statuses, cutoff):
                await client.repository.delete(job.id)
                count += 1
        continuation = page.continuation
        if continuation is None:
            return count


def _purgeable(job: QueuedJob, statuses: frozenset[JobStatus], cutoff: datetime) -> bool:
    return job.status in statuses and job.completed_at is not None and job.completed_at < cutoff
