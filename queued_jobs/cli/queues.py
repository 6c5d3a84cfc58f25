"""``queued-jobs queues``: how many messages each priority band's queues hold."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass

import click
from rich import box
from rich.table import Table

from .._cli_views import json_text
from ..client import JobClient
from ..models import Priority
from ._base import Options, cli, console, with_client

__all__ = ["queues"]

#: The bands, most urgent first (as the worker drains them).
_BANDS = (Priority.HIGH, Priority.NORMAL, Priority.LOW)


@dataclass(frozen=True, slots=True)
class _Depths:
    band: str
    queue: str
    messages: int
    poison: int
    dead_letters: int


async def _depths(client: JobClient) -> list[_Depths]:
    async def of(band: str, name: str) -> _Depths:
        queue = client.broker.queue(name)
        messages, poison, dead = await asyncio.gather(
            queue.depth(), queue.poison_queue().depth(), queue.dead_letter_queue().depth()
        )
        return _Depths(band, queue.name, messages, poison, dead)

    bands = [(p.value, client.queues.for_priority(p)) for p in _BANDS]
    if client.settings.owner_share is not None:  # owners' jobs beyond their share
        bands.append(("overflow", client.queues.overflow))
    return list(await asyncio.gather(*(of(band, name) for band, name in bands)))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the depths as JSON.")
@click.pass_obj
def queues(options: Options, as_json: bool) -> None:
    """How many messages each priority band's queue, -poison queue and -deadletter queue
    holds, most urgent band first (and the overflow queue, with an owner share: its dead
    letters are kept with the normal band's).

    The counts are the store's approximate ones (Azure's are estimates) and include
    messages not visible yet: delayed jobs, retries waiting out their backoff, and messages
    being run.
    """
    depths = with_client(options.app(), _depths)
    if as_json:
        click.echo(json_text([asdict(depth) for depth in depths]))
        return
    table = Table(box=box.SIMPLE_HEAD)
    for heading in ("band", "queue"):
        table.add_column(heading)
    for heading in ("messages", "poison", "dead letters"):
        table.add_column(heading, justify="right")
    for depth in depths:
        table.add_row(
            depth.band,
            depth.queue,
            f"{depth.messages:,}",
            f"{depth.poison:,}",
            f"{depth.dead_letters:,}",
        )
    console().print(table)
