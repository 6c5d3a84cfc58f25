"""``logs``: what a job printed, and with ``--follow`` what it prints until it ends."""

from __future__ import annotations

import click

from .._cli_views import printable
from ..client import JobClient
from ..models import MAX_OUTPUT_POSITION, JobStatus, OutputRead
from ._base import Options, cli, with_client

__all__ = ["logs", "skipped_marker"]

#: The exit code of a follow ended by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


def skipped_marker(count: int) -> str:
    """The line that stands for ``count`` characters the record no longer holds."""
    return f"[… {count:,} character{'' if count == 1 else 's'} not kept …]\n"


class _Printer:
    """Writes reads of a job's output to standard output as they come: the text, shown
    printable (line ends and tabs kept), each gap as a line of its own."""

    def __init__(self) -> None:
        self._at_line_start = True

    def show(self, read: OutputRead) -> None:
        if read.skipped:
            if not self._at_line_start:
                click.echo("")
            click.echo(skipped_marker(read.skipped), nl=False)
            self._at_line_start = True
        if read.text:
            click.echo(printable(read.text, keep_newlines=True, keep_tabs=True), nl=False)
            self._at_line_start = read.text.endswith("\n")

    def end(self) -> None:
        """End an unfinished last line (what follows goes on a line of its own)."""
        if not self._at_line_start:
            click.echo("")
            self._at_line_start = True


@cli.command()
@click.argument("job_id")
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep printing what the job prints until it ends; exit 0 if it succeeded, 1 if it "
    "failed or was cancelled.",
)
@click.option(
    "--after",
    type=click.IntRange(0, MAX_OUTPUT_POSITION),
    default=0,
    metavar="N",
    help="Leave out the first N characters of the output (what was read before).",
)
@click.pass_obj
def logs(options: Options, job_id: str, follow: bool, after: int) -> None:
    """Print what a job printed: the end its record keeps (its last 8,000 characters; a
    line says how many characters before them are not kept).

    With --follow, keep printing what it prints until it ends, then say how it ended (on
    standard error) and exit 0 if it succeeded, 1 if it failed or was cancelled. Ctrl-C
    stops following (exit 130).
    """
    app = options.app()
    printer = _Printer()

    async def read(client: JobClient) -> OutputRead:
        found = await client.read_output(job_id, after=after)
        printer.show(found)
        return found

    async def follow_to_the_end(client: JobClient) -> OutputRead:
        last: OutputRead | None = None
        async for found in client.follow_output(job_id, after=after):
            printer.show(found)
            last = found
        assert last is not None  # the read that finds the job finished is always given
        return last

    try:
        last = with_client(app, follow_to_the_end if follow else read)
    except KeyboardInterrupt:
        printer.end()
        click.echo("stopped following; the job goes on", err=True)
        raise click.exceptions.Exit(INTERRUPTED) from None
    printer.end()
    if not follow:
        return
    if last.status is JobStatus.SUCCEEDED:
        click.echo(f"job {last.job_id} succeeded", err=True)
        return
    click.echo(
        f"job {last.job_id} {last.status.value} (queued-jobs status {last.job_id} says more)",
        err=True,
    )
    raise click.exceptions.Exit(1)
