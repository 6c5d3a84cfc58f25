"""``queued-jobs limits list|show|set|reset``: the app's concurrency and rate limits
(:class:`~queued_jobs.limits.client.LimitClient`): each with its code's capacity or rate,
an operator's override and the value that applies, its holders and parked jobs; ``set``
overrides a capacity or rate at run time (``0`` pauses the limit), ``reset`` forgets it.

Keys and job ids come from the jobs: every one is shown through
:func:`~queued_jobs._cli_views.printable`, as plain text, never read as markup.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from pydantic import TypeAdapter
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from .._cli_views import format_time, json_text, printable
from ..client import JobClient
from ..limits import MAX_CAPACITY, MAX_RATE
from ..limits.client import LimitClient
from ..limits.views import GateView, LimitView
from ._base import Options, cli, console, with_client

__all__ = ["limits"]

T = TypeVar("T")
_LABEL_WIDTH = 12
#: The holders ``show`` lists per gate.
_SHOWN_HOLDERS = 20
_RECORD = TypeAdapter(LimitView)


def _run(options: Options, action: Callable[[LimitClient], Coroutine[Any, Any, T]]) -> T:
    """``action`` on the app's limit client, in one event loop; errors in a line."""

    async def run(client: JobClient) -> T:
        return await action(client.limits)

    return with_client(options.app(), run)


def _value(limit: LimitView, value: int | None) -> str:
    return "-" if value is None else str(value)


def _code(limit: LimitView) -> str:
    return _value(limit, limit.rate if limit.kind == "rate" else limit.capacity)


def _parked(limit: LimitView) -> str:
    return f"{limit.parked}+" if limit.parked_more else str(limit.parked)


def _record(limit: LimitView) -> dict[str, Any]:
    """The limit as JSON: its fields, and what applies."""
    record: dict[str, Any] = _RECORD.dump_python(limit, mode="json")
    record["per_seconds"] = None if limit.per is None else limit.per.total_seconds()
    del record["per"]
    record |= {
        "override": limit.override,
        "effective": limit.effective,
        "paused": limit.paused,
        "description": limit.describe(),
        "holding": limit.holding,
        "parked": limit.parked,
        "parked_more": limit.parked_more,
    }
    for gate, shown in zip(limit.gates, record["gates"], strict=True):
        shown["parked_text"] = gate.parked_text
    return record


def limit_table(found: list[LimitView]) -> Table:
    """The limits in rows: code, override and effective values, holders, parked jobs."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("name", "kind", "code", "override", "effective", "holding", "parked", "gates"):
        table.add_column(column, no_wrap=True)
    table.add_column("applies")
    for limit in found:
        holding = str(limit.holding)
        if limit.kind == "concurrency":
            holding += f" / {_value(limit, limit.effective)}"
        table.add_row(
            limit.name,
            limit.kind,
            _code(limit),
            _value(limit, limit.override),
            _value(limit, limit.effective),
            holding if limit.kind != "rate" else "-",
            _parked(limit),
            f"{len(limit.gates)}{'+' if limit.truncated else ''}",
            limit.describe(),
        )
    return table


def _gate_table(limit: LimitView) -> Table:
    table = Table(title="gates", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    for column in ("key", "holding", "parked", "starts", "next turn", "holders"):
        table.add_column(column, no_wrap=column != "holders")
    for gate in limit.gates:
        table.add_row(
            Text(printable(gate.key) or "(all)"),
            str(len(gate.holders)),
            gate.parked_text,
            "-" if gate.starts is None else str(gate.starts),
            format_time(gate.next_turn),
            _holders(gate),
        )
    return table


def _holders(gate: GateView) -> Text:
    lines = [
        f"{held.job_id} since {format_time(held.since)}" + ("" if held.started else " (woken)")
        for held in gate.holders[:_SHOWN_HOLDERS]
    ]
    if len(gate.holders) > _SHOWN_HOLDERS:
        lines.append(f"and {len(gate.holders) - _SHOWN_HOLDERS} more")
    return Text(printable("\n".join(lines), keep_newlines=True))


def limit_view(limit: LimitView) -> RenderableType:
    """One limit's fields, one per line, then its gates."""
    setting = limit.setting
    window = None if limit.per is None else f"{limit.per.total_seconds():g}s"
    fields: list[tuple[str, str | None]] = [
        ("name", limit.name),
        ("kind", limit.kind),
        ("applies", limit.describe()),
        ("capacity" if limit.kind != "rate" else "rate", _code(limit)),
        ("window", window),
        ("keyed by", limit.keyed_by),
        ("override", None if setting is None else _value(limit, limit.override)),
        (
            "set",
            None
            if setting is None
            else f"{format_time(setting.updated_at)} by {setting.updated_by or 'unknown'}",
        ),
        ("holding", str(limit.holding) if limit.kind != "rate" else None),
        ("parked", _parked(limit)),
    ]
    lines = Text()
    for name, value in fields:
        if value is None:
            continue
        lines.append(f"{name:<{_LABEL_WIDTH}}", style="bold")
        lines.append(printable(value))
        lines.append("\n")
    if limit.truncated:
        lines.append(f"only the first {len(limit.gates)} gates are shown\n")
    if limit.skipped:
        lines.append(f"gates that cannot be read: {printable(', '.join(limit.skipped))}\n")
    lines.rstrip()
    if not limit.gates:
        return Group(lines, Text(""), Text("no gates: no job of it is running or waiting"))
    return Group(lines, Text(""), _gate_table(limit))


@cli.group()
def limits() -> None:
    """See the app's concurrency and rate limits, and change their capacity or rate."""


@limits.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the limits as JSON.")
@click.pass_obj
def list_command(options: Options, as_json: bool) -> None:
    """List the limits the app's job types pass: capacity or rate (code, override,
    effective), jobs holding places and jobs parked."""
    found = _run(options, lambda client: client.list_limits())
    if as_json:
        click.echo(json_text([_record(limit) for limit in found]))
    elif found:
        console().print(limit_table(found))
    else:
        click.echo("no limits: no job type of the app passes one")


@limits.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the limit as JSON.")
@click.pass_obj
def show(options: Options, name: str, as_json: bool) -> None:
    """Show a limit and its gates: who holds a place, how many are parked."""
    limit = _run(options, lambda client: client.get_limit(name))
    if as_json:
        click.echo(json_text(_record(limit)))
    else:
        console().print(limit_view(limit))


@limits.command("set")
@click.argument("name")
@click.option(
    "--capacity",
    type=click.IntRange(0, MAX_CAPACITY),
    metavar="N",
    help="Jobs at once (a concurrency limit); 0 pauses it.",
)
@click.option(
    "--rate",
    type=click.IntRange(0, MAX_RATE),
    metavar="N",
    help="Starts per window (a rate limit); 0 pauses it.",
)
@click.option("--by", help="Who sets it, for the record (default: your user name).")
@click.pass_obj
def set_command(
    options: Options, name: str, capacity: int | None, rate: int | None, by: str | None
) -> None:
    """Override a limit's capacity or rate at run time; hosts apply it within 5 seconds."""
    if (capacity is None) == (rate is None):
        raise click.UsageError("give --capacity (a concurrency limit) or --rate (a rate limit)")
    who = by or _user()
    saved = _run(
        options, lambda client: client.set_limit(name, capacity=capacity, rate=rate, by=who)
    )
    value = saved.capacity if saved.capacity is not None else saved.rate
    what = "capacity" if saved.capacity is not None else "rate"
    click.echo(f"limit {name}: {what} {value}{' (paused)' if value == 0 else ''}")


@limits.command()
@click.argument("name")
@click.pass_obj
def reset(options: Options, name: str) -> None:
    """Forget the override of a limit: its code's capacity or rate applies again."""
    _run(options, lambda client: client.reset_limit(name))
    click.echo(f"limit {name}: the code's value applies")


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return None
