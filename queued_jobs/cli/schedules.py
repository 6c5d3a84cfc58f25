"""``queued-jobs schedules create|list|show|update|pause|resume|trigger|delete|preview|slots``:
recurring schedules (:class:`~queued_jobs.schedules.client.ScheduleClient`).

Times are shown in each schedule's own time zone, with UTC beside them. ``preview`` also
reads a rule not stored yet (``--rule``), to try one before making a schedule of it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click

from .._cli_views import json_text, printable
from ..client import JobClient
from ..models import MAX_ATTEMPTS, Priority
from ..repositories.base import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ..schedules import MAX_RULE_LENGTH, CatchUp, Overlap, Schedule
from ..schedules.client import ScheduleClient, SlotPreview
from ..schedules.model import MAX_CATCH_UP_LIMIT, MAX_NAME_LENGTH, MAX_TIME_ZONE_LENGTH
from ..schedules.rules import MAX_PREVIEW
from ._base import CENTURY, Options, cli, console, with_client
from ._schedule_views import (
    local_time,
    preview_record,
    preview_table,
    schedule_table,
    schedule_view,
    slot_table,
)
from ._types import duration, read_json

__all__ = ["schedules"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
#: The next slots ``show`` lists.
_SHOWN_SLOTS = 5
#: The fired slots ``show`` lists.
_SHOWN_FIRED = 10


def _run(options: Options, action: Callable[[ScheduleClient], Coroutine[Any, Any, T]]) -> T:
    """``action`` on a schedule client of the app, in one event loop; errors in a line."""

    async def run(client: JobClient) -> T:
        return await action(ScheduleClient(client))

    return with_client(options.app(), run)


def _bounded(name: str, most: int) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """Refuse a text option longer than ``most`` characters before anything reads it."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if isinstance(value, str) and len(value) > most:
            raise click.BadParameter(
                f"{name} is {len(value):,} characters; at most {most:,} are accepted", ctx, param
            )
        return value

    return check


def _options(*, creating: bool) -> Callable[[F], F]:
    """The options a schedule is made or changed with (required ones only when made)."""
    made = [
        click.option(
            "--name",
            required=creating,
            callback=_bounded("the name", MAX_NAME_LENGTH),
            help="A name, unique among the owner's schedules.",
        ),
        click.option(
            "--rule",
            required=creating,
            callback=_bounded("the rule", MAX_RULE_LENGTH),
            help="When it fires: 'cron:0 9 * * MON-FRI', 'every:PT20M', "
            "'rrule:FREQ=MONTHLY;BYMONTHDAY=1'.",
        ),
        click.option(
            "--time-zone",
            default="UTC" if creating else None,
            show_default=creating,
            callback=_bounded("the time zone", MAX_TIME_ZONE_LENGTH),
            help="The IANA time zone the rule's times are in (Europe/Paris).",
        ),
        click.option(
            "--catch-up",
            type=click.Choice([c.value for c in CatchUp]),
            help="What to do with slots missed while nothing fired (default: once).",
        ),
        click.option(
            "--catch-up-limit",
            type=click.IntRange(1, MAX_CATCH_UP_LIMIT),
            metavar="N",
            help="Most missed slots 'all' runs.",
        ),
        click.option(
            "--overlap",
            type=click.Choice([o.value for o in Overlap]),
            help="What to do when the last slot's job is still active (default: allow).",
        ),
        click.option("--priority", type=click.Choice([p.value for p in Priority])),
        click.option(
            "--max-attempts",
            type=click.IntRange(1, MAX_ATTEMPTS),
            metavar="N",
            help="Attempts of each job (default: the job type's, or 3).",
        ),
        click.option(
            "--max-run-time",
            callback=duration(bare_unit="seconds", most=CENTURY),
            metavar="DURATION",
            help="Longest each job may run: 90s, 30m, 2h.",
        ),
        click.option("--tag", "tags", multiple=True, help="A tag of each job (repeat for more)."),
        click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON."),
    ]

    def decorate(command: F) -> F:
        for option in reversed(made):
            command = option(command)
        return command

    return decorate


def _chosen(**given: Any) -> dict[str, Any]:
    """The options given (``None`` and empty tags are options left out), as the client's
    arguments."""
    converted: dict[str, Any] = {}
    kinds: dict[str, Callable[[Any], Any]] = {
        "catch_up": CatchUp,
        "overlap": Overlap,
        "priority": Priority,
    }
    for name, value in given.items():
        if value is None or (name == "tags" and not value):
            continue
        converted[name] = kinds[name](value) if name in kinds else value
    return converted


def _show(schedule: Schedule, as_json: bool) -> None:
    if as_json:
        click.echo(json_text(schedule.model_dump(mode="json")))
    else:
        console().print(schedule_view(schedule))


@cli.group()
def schedules() -> None:
    """Make, read and steer recurring schedules, and preview their rules."""


@schedules.command()
@click.argument("job_type")
@click.argument("request_json", metavar="[REQUEST_JSON | -]", required=False)
@click.option("--owner", required=True, help="Whose schedule it is (and whose jobs it starts).")
@_options(creating=True)
@click.option("--paused", is_flag=True, help="Make it paused: it fires nothing until resumed.")
@click.pass_obj
def create(
    options: Options,
    /,
    job_type: str,
    request_json: str | None,
    owner: str,
    paused: bool,
    as_json: bool,
    **given: Any,
) -> None:
    """Make a schedule that starts a job of JOB_TYPE with a JSON request at each slot of
    its rule (- reads the request from standard input). Prints the schedule."""
    request = read_json(request_json)
    arguments = _chosen(**given)
    made = _run(
        options,
        lambda client: client.create_schedule(
            job_type, request, owner=owner, paused=paused, **arguments
        ),
    )
    _show(made, as_json)


@schedules.command("list")
@click.option("--owner", help="Only this owner's schedules.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_PAGE_SIZE),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    help="At most this many schedules.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON.")
@click.pass_obj
def list_command(options: Options, owner: str | None, limit: int, as_json: bool) -> None:
    """List schedules, newest first, with their next slot in their own time zone."""
    page = _run(options, lambda client: client.list_schedules(owner=owner, limit=limit))
    if page.skipped:
        click.echo(
            f"skipped {len(page.skipped)} schedule record(s) that cannot be read: "
            f"{printable(', '.join(page.skipped))}",
            err=True,
        )
    if as_json:
        click.echo(json_text([schedule.model_dump(mode="json") for schedule in page.items]))
    elif page.items:
        console().print(schedule_table(page.items))
    else:
        click.echo("no schedules")


@schedules.command()
@click.argument("schedule_id")
@click.option("--json", "as_json", is_flag=True, help="Print the schedule's record as JSON.")
@click.pass_obj
def show(options: Options, schedule_id: str, as_json: bool) -> None:
    """Show a schedule, its next slots and the last slots it fired."""

    async def read(client: ScheduleClient) -> tuple[Schedule, Any, Any]:
        schedule = await client.get_schedule(schedule_id)
        slots = await client.preview(schedule, _SHOWN_SLOTS)
        return schedule, slots, await client.list_slots(schedule.id, limit=_SHOWN_FIRED)

    schedule, slots, fired = _run(options, read)
    if as_json:
        click.echo(json_text(schedule.model_dump(mode="json")))
    else:
        console().print(schedule_view(schedule, slots, fired))


@schedules.command()
@click.argument("schedule_id")
@click.option(
    "--type",
    "job_type",
    help="Another job type (the request must validate against its request type).",
)
@click.option(
    "--request", "request_json", metavar="JSON | -", help="Another request (- reads stdin)."
)
@_options(creating=False)
@click.option("--clear-tags", is_flag=True, help="Tag its jobs with nothing.")
@click.pass_obj
def update(
    options: Options,
    /,
    schedule_id: str,
    job_type: str | None,
    request_json: str | None,
    clear_tags: bool,
    as_json: bool,
    **given: Any,
) -> None:
    """Change a schedule. A new rule or time zone moves its next slot to the rule's first
    slot after now."""
    changes = _chosen(job_type=job_type, **given)
    if request_json is not None:
        changes["request"] = read_json(request_json, name="--request")
    if clear_tags:
        if "tags" in changes:
            raise click.UsageError("give --tag or --clear-tags, not both")
        changes["tags"] = ()
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    _show(_run(options, lambda client: client.update_schedule(schedule_id, **changes)), as_json)


@schedules.command()
@click.argument("schedule_id")
@click.pass_obj
def pause(options: Options, schedule_id: str) -> None:
    """Pause a schedule: it fires nothing until resumed."""
    schedule = _run(options, lambda client: client.pause(schedule_id))
    click.echo(f"paused schedule {schedule.id}")


@schedules.command()
@click.argument("schedule_id")
@click.pass_obj
def resume(options: Options, schedule_id: str) -> None:
    """Resume a paused schedule from now: the slots missed while it was paused are not
    caught up."""
    schedule = _run(options, lambda client: client.resume(schedule_id))
    click.echo(f"resumed schedule {schedule.id}; its next slot: {_next(schedule)}")


def _next(schedule: Schedule) -> str:
    return local_time(schedule.next_slot, schedule.time_zone)


@schedules.command()
@click.argument("schedule_id")
@click.pass_obj
def trigger(options: Options, schedule_id: str) -> None:
    """Start one job of the schedule now (its slots are left as they are). Prints the
    job's id."""
    job = _run(options, lambda client: client.trigger_now(schedule_id))
    click.echo(job.id)


@schedules.command()
@click.argument("schedule_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def delete(options: Options, schedule_id: str, yes: bool) -> None:
    """Delete a schedule and the record of its fired slots (its jobs stay)."""
    if not yes:
        click.confirm(f"Delete schedule {printable(schedule_id[:64])}?", abort=True)
    _run(options, lambda client: client.delete_schedule(schedule_id))
    click.echo(f"deleted schedule {schedule_id}")


@schedules.command()
@click.argument("schedule_id", required=False)
@click.option(
    "--rule",
    callback=_bounded("the rule", MAX_RULE_LENGTH),
    help="A rule not stored yet, instead of a schedule's id.",
)
@click.option(
    "--time-zone",
    callback=_bounded("the time zone", MAX_TIME_ZONE_LENGTH),
    help="The zone to read the rule in (default: the schedule's, or UTC).",
)
@click.option(
    "--count",
    type=click.IntRange(1, MAX_PREVIEW),
    default=10,
    show_default=True,
    help="How many slots.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the slots as JSON.")
@click.pass_obj
def preview(
    options: Options,
    schedule_id: str | None,
    rule: str | None,
    time_zone: str | None,
    count: int,
    as_json: bool,
) -> None:
    """The next slots of a schedule (SCHEDULE_ID) or of a rule (--rule), in local time and
    in UTC."""
    if (schedule_id is None) == (rule is None):
        raise click.UsageError("give a SCHEDULE_ID or a --rule (one of them)")
    if rule is not None and ":" not in rule:
        raise click.BadParameter(
            f"'{printable(rule[:80])}' does not start with a kind: write cron:<expression>, "
            "every:<ISO 8601 duration> or rrule:<RRULE>",
            param_hint="'--rule'",
        )

    async def read(client: ScheduleClient) -> list[SlotPreview]:
        if rule is not None:
            return await client.preview(rule, count, time_zone=time_zone)
        schedule = await client.get_schedule(str(schedule_id))
        return await client.preview(schedule, count, time_zone=time_zone)

    slots = _run(options, read)
    if as_json:
        click.echo(json_text([preview_record(slot) for slot in slots]))
    elif slots:
        console().print(preview_table(slots))
    else:
        click.echo("no slots to come: the rule has ended")


@schedules.command()
@click.argument("schedule_id")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_PAGE_SIZE),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    help="At most this many slots.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the slots as JSON.")
@click.pass_obj
def slots(options: Options, schedule_id: str, limit: int, as_json: bool) -> None:
    """The slots a schedule fired, newest first, each with its job."""

    async def read(client: ScheduleClient) -> tuple[Schedule, Any]:
        schedule = await client.get_schedule(schedule_id)
        return schedule, await client.list_slots(schedule.id, limit=limit)

    schedule, fired = _run(options, read)
    if as_json:
        click.echo(json_text([marker.model_dump(mode="json") for marker in fired]))
    elif fired:
        console().print(slot_table(fired, schedule.time_zone))
    else:
        click.echo(f"schedule {schedule.id} has fired no slot yet")
