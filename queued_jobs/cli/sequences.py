"""``queued-jobs sequences start|list|show|cancel|purge``: multi-step sequences."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Any

import click
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .._cli_views import format_time, json_text, printable
from ..client import JobClient
from ..repositories.base import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ..sequences.client import SequenceClient
from ..sequences.model import Sequence
from ._base import CENTURY, Options, cli, console, with_client
from ._types import duration

__all__ = ["sequences"]

#: Largest definition file read (a definition is at most 64 KiB of JSON; room for spaces).
_MAX_DEFINITION_TEXT = 1024 * 1024


@cli.group("sequences")
def sequences() -> None:
    """Start, list, show, cancel and purge multi-step sequences."""


def _read_definition(path: str) -> dict[str, Any]:
    if path == "-":
        text = sys.stdin.read(_MAX_DEFINITION_TEXT + 1)
    else:
        with click.open_file(path, encoding="utf-8") as file:
            text = file.read(_MAX_DEFINITION_TEXT + 1)
    if len(text) > _MAX_DEFINITION_TEXT:
        raise click.BadParameter("the definition is over 1 MiB", param_hint="'DEFINITION'")
    try:
        found = json.loads(text)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise click.BadParameter(f"not valid JSON: {exc}", param_hint="'DEFINITION'") from None
    if (
        not isinstance(found, dict)
        or not isinstance(found.get("steps"), list)
        or not isinstance(found.get("name", ""), str)
    ):
        raise click.BadParameter(
            'a definition is a JSON object with "steps" (a list), and "name" (a text) and '
            '"max_iterations" if wanted',
            param_hint="'DEFINITION'",
        )
    return found


@sequences.command("start")
@click.argument("definition", metavar="DEFINITION.json | -")
@click.option("--owner", required=True, help="Who the sequence is for (a user, a tenant).")
@click.option("--name", help="A name to show (default: the definition's, or 'sequence').")
@click.pass_obj
def start(options: Options, definition: str, owner: str, name: str | None) -> None:
    """Start a sequence from a JSON definition ({"name", "steps", "max_iterations"}; -
    reads it from standard input). Prints the new sequence's id."""
    found = _read_definition(definition)
    chosen = name or found.get("name") or "sequence"
    iterations = found.get("max_iterations")

    async def go(client: JobClient) -> Sequence:
        return await SequenceClient(client).start(
            found["steps"], owner=owner, name=str(chosen), max_iterations=iterations
        )

    started = with_client(options.app(), go)
    click.echo(started.id)


@sequences.command("list")
@click.option("--owner", help="Only this owner's sequences.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_PAGE_SIZE),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
@click.pass_obj
def list_command(options: Options, owner: str | None, limit: int, as_json: bool) -> None:
    """List sequences, newest first."""

    async def read(client: JobClient) -> list[Sequence]:
        page = await SequenceClient(client).list(owner=owner, limit=limit)
        if page.skipped:
            click.echo(f"skipped unreadable sequences: {', '.join(page.skipped)}", err=True)
        return list(page.items)

    found = with_client(options.app(), read)
    if as_json:
        click.echo(json_text([s.model_dump(mode="json") for s in found]))
    elif found:
        console().print(_table(found))
    else:
        click.echo("no sequences")


@sequences.command("show")
@click.argument("sequence_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@click.pass_obj
def show(options: Options, sequence_id: str, as_json: bool) -> None:
    """Show a sequence: its status, its steps, and every run with its jobs."""
    found = with_client(options.app(), lambda client: SequenceClient(client).get(sequence_id))
    if as_json:
        click.echo(json_text(found.model_dump(mode="json")))
    else:
        console().print(_view(found))


@sequences.command("cancel")
@click.argument("sequence_id")
@click.option("--reason", default="cancelled", show_default=True, help="Why (recorded).")
@click.pass_obj
def cancel(options: Options, sequence_id: str, reason: str) -> None:
    """Cancel a running sequence and its jobs not yet ended."""
    found = with_client(
        options.app(), lambda client: SequenceClient(client).cancel(sequence_id, reason=reason)
    )
    click.echo(f"{found.id} {found.status.value}")


@sequences.command("purge")
@click.option(
    "--older-than",
    "age",
    callback=duration(bare_unit="days", most=CENTURY),
    required=True,
    help="Delete sequences that ended longer ago than this: 90m, 6h, 1h30m, 30d "
    "(a bare number is days).",
    metavar="DURATION",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def purge(options: Options, age: timedelta, yes: bool) -> None:
    """Delete ended sequences (succeeded, failed, cancelled); their jobs stay."""
    app = options.app()
    cutoff = app.clock.now() - age
    if not yes:
        click.confirm(
            f"Delete every sequence that ended before {cutoff:%Y-%m-%d %H:%M:%S} UTC?",
            abort=True,
        )
    count = with_client(app, lambda client: SequenceClient(client).purge(ended_before=cutoff))
    click.echo(f"purged {count} sequence{'' if count == 1 else 's'}")


def _table(found: list[Sequence]) -> Table:
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("id", "name", "owner", "status", "step", "runs", "created"):
        table.add_column(column)
    for sequence in found:
        table.add_row(
            sequence.id,
            printable(sequence.name),
            printable(sequence.owner),
            sequence.status.value,
            "-" if sequence.step is None else str(sequence.step),
            str(len(sequence.runs) + sequence.runs_dropped),
            format_time(sequence.created_at),
        )
    return table


def _view(sequence: Sequence) -> RenderableType:
    head = Text()
    head.append(f"sequence {sequence.id}  {printable(sequence.name)}\n", style="bold")
    head.append(f"owner    {printable(sequence.owner)}\n")
    head.append(f"status   {sequence.status.value}")
    if sequence.step is not None:
        head.append(f" at step {sequence.step}")
    if sequence.reason:
        head.append(f"  ({printable(sequence.reason)})")
    head.append(f"\ncreated  {format_time(sequence.created_at)}")
    head.append(f"   updated {format_time(sequence.updated_at)}")
    if sequence.runs_dropped:
        head.append(f"\n({sequence.runs_dropped} older runs not kept)")
    runs = Table(box=box.SIMPLE_HEAD, title="runs")
    for column in ("run", "step", "iteration", "outcome", "job", "type", "status"):
        runs.add_column(column)
    for run in sequence.runs:
        entries = sequence.steps[run.step].jobs
        for index, (entry, job) in enumerate(zip(entries, run.jobs, strict=True)):
            first = index == 0
            runs.add_row(
                str(run.number) if first else "",
                str(run.step) if first else "",
                str(run.iteration) if first else "",
                (run.outcome.value if run.outcome else "-") if first else "",
                job.job_id,
                printable(entry.job_type),
                job.status.value if job.status else "-",
            )
    return Group(head, runs)
