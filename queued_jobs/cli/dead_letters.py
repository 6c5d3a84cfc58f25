"""``queued-jobs dead-letters list|show|requeue|purge``: the bands' side queues.

``-deadletter`` queues (the default) hold what either host gave up on; ``--poison`` chooses
the ``-poison`` queues the Functions host writes after ``maxDequeueCount`` deliveries.
Without ``--band`` every band is read (``show``, ``requeue`` and a one-message ``purge``
look for the id in each). Bodies come from any producer: every character that could move
the cursor, recolour or rewrite the terminal is printed as an escape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from rich import box
from rich.table import Table
from rich.text import Text

from .._cli_views import format_time, json_text, printable
from ..client import JobClient
from ..dead_letters import DeadLetter, DeadLetters, SideQueue
from ..errors import QueueMessageNotFound
from ..models import Priority
from ._base import Options, cli, console, with_client

__all__ = ["dead_letters"]

T = TypeVar("T")
#: The characters of a body's preview in ``list``.
_PREVIEW = 80

_band = click.option(
    "--band",
    type=click.Choice([p.value for p in Priority]),
    help="Only this priority band (default: every band).",
)
_poison = click.option(
    "--poison",
    is_flag=True,
    help="The -poison queues (the Functions host's) instead of the -deadletter queues.",
)


@cli.group("dead-letters")
def dead_letters() -> None:
    """See, requeue or delete the messages of the bands' -deadletter (or -poison) queues."""


@dead_letters.command("list")
@_band
@_poison
@click.option(
    "--limit", type=click.IntRange(1, 32), default=32, show_default=True, help="Per band."
)
@click.option("--json", "as_json", is_flag=True, help="Print the messages as JSON.")
@click.pass_obj
def list_command(
    options: Options, band: str | None, poison: bool, limit: int, as_json: bool
) -> None:
    """The oldest messages of each band's side queue (at most 32: Azure peeks no more),
    without taking them, and about how many each holds."""
    side = _side(poison)

    async def read(dead: DeadLetters) -> list[tuple[str, int, list[DeadLetter]]]:
        listing = []
        for chosen in _bands(band):
            letters = await dead.list(chosen, side, limit=limit)
            listing.append((dead.queue(chosen, side).name, await dead.count(chosen, side), letters))
        return listing

    queues = _run(options, read)
    if as_json:
        listing = [
            {"queue": name, "approximate_count": count, "messages": [_record(m) for m in letters]}
            for name, count, letters in queues
        ]
        click.echo(json_text(listing))
        return
    for name, count, letters in queues:
        shown = f"; the oldest {len(letters)}" if letters and len(letters) < count else ""
        click.echo(f"{name}: about {count} message{'' if count == 1 else 's'}{shown}")
        if letters:
            console().print(_table(letters))


@dead_letters.command()
@click.argument("message_id")
@_band
@_poison
@click.option("--json", "as_json", is_flag=True, help="Print the message as JSON.")
@click.pass_obj
def show(options: Options, message_id: str, band: str | None, poison: bool, as_json: bool) -> None:
    """Show one message whole: where it is, how it is stored, its body."""
    side = _side(poison)
    letter = _run(options, lambda dead: _first(band, lambda b: dead.show(b, message_id, side)))
    if as_json:
        click.echo(json_text(_record(letter)))
        return
    stored = "base64" if letter.encoded else "plain text"
    size = len(letter.body.encode("utf-8", errors="surrogatepass"))
    for label, value in (
        ("id", letter.id),
        ("queue", letter.queue),
        ("inserted (UTC)", format_time(letter.inserted_at)),
        ("deliveries", str(letter.dequeue_count)),
        ("stored as", f"{stored}, {len(letter.wire)} characters"),
        ("body", f"{size} bytes (characters that are not safe here are shown as escapes)"),
    ):
        click.echo(f"{label + ':':<16}{printable(value)}")
    click.echo()
    click.echo(printable(letter.body, keep_newlines=True))


@dead_letters.command()
@click.argument("message_id")
@_band
@_poison
@click.pass_obj
def requeue(options: Options, message_id: str, band: str | None, poison: bool) -> None:
    """Move one message back to its band's queue, unchanged, to be delivered again."""
    side = _side(poison)
    letter = _run(options, lambda dead: _first(band, lambda b: dead.requeue(b, message_id, side)))
    click.echo(printable(f"requeued message {letter.id} from {letter.queue}"))


@dead_letters.command()
@click.argument("message_id", required=False)
@_band
@_poison
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def purge(
    options: Options, message_id: str | None, band: str | None, poison: bool, yes: bool
) -> None:
    """Delete one message (MESSAGE_ID), or every message of the side queues."""
    side = _side(poison)
    bands = _bands(band)
    if not yes:
        queues = options.app().queues
        names = ", ".join(queues.for_priority(b) + side.suffix for b in bands)
        what = f"message {message_id} from" if message_id else "every message of"
        click.confirm(f"Delete {what} {names}?", abort=True)
    if message_id is not None:
        _run(options, lambda dead: _first(band, lambda b: dead.purge(b, message_id, side)))
        click.echo(f"purged message {message_id}")
        return

    async def purge_all(dead: DeadLetters) -> int:
        return sum([await dead.purge(b, side=side) for b in bands])

    count = _run(options, purge_all)
    click.echo(f"purged about {count} message{'' if count == 1 else 's'}")


def _side(poison: bool) -> SideQueue:
    return SideQueue.POISON if poison else SideQueue.DEAD_LETTER


def _bands(band: str | None) -> list[Priority]:
    return [Priority(band)] if band else [Priority.HIGH, Priority.NORMAL, Priority.LOW]


async def _first(band: str | None, action: Callable[[Priority], Awaitable[T]]) -> T:
    """``action`` on the first band that has the message; if none has it, an error naming
    every queue searched."""
    searched: list[str] = []
    for chosen in _bands(band):
        try:
            return await action(chosen)
        except QueueMessageNotFound as missing:
            searched.append(missing.queue)
            last = missing
    raise QueueMessageNotFound(searched[-1], last.message_id, also=searched[:-1])


def _run(options: Options, action: Callable[[DeadLetters], Awaitable[T]]) -> T:
    """``action`` on the app's side queues, in one event loop; errors reported in a line."""
    app = options.app()

    async def run(client: JobClient) -> T:
        return await action(DeadLetters(client.broker, app.queues))

    return with_client(app, run)


def _record(letter: DeadLetter) -> dict[str, Any]:
    """The message as JSON (dumped by ``json_text``: safe for any terminal)."""
    return {
        "id": letter.id,
        "queue": letter.queue,
        "band": letter.band.value,
        "side": letter.side.value,
        "dequeue_count": letter.dequeue_count,
        "inserted_at": letter.inserted_at.isoformat(),
        "encoded": letter.encoded,
        "body": letter.body,
        "wire": letter.wire,
    }


def _table(letters: list[DeadLetter]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("id", "inserted (UTC)", "deliveries", "stored", "body"):
        table.add_column(column, no_wrap=column != "body")
    for letter in letters:
        preview = printable(letter.body[:_PREVIEW]) + ("…" if len(letter.body) > _PREVIEW else "")
        table.add_row(
            Text(printable(letter.id)),
            format_time(letter.inserted_at),
            str(letter.dequeue_count),
            "base64" if letter.encoded else "plain",
            Text(preview),
        )
    return table
