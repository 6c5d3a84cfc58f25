"""What ``queued-jobs schedules`` shows: a schedule, a table of schedules, slots to come
and slots fired.

Names, owners, job types, requests and hosts come from whoever made the schedule or ran
its jobs: every one is passed through :func:`~queued_jobs._cli_views.printable` and shown
as plain :class:`~rich.text.Text`, never read as markup.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich import box
from rich.table import Table
from rich.text import Text

from .._cli_views import format_time, printable
from ..errors import UnknownTimeZone
from ..schedules import Schedule, SlotMarker, parse_zone
from ..schedules.client import SlotPreview

__all__ = [
    "local_time",
    "preview_record",
    "preview_table",
    "schedule_table",
    "schedule_view",
    "slot_table",
]

_LABEL_WIDTH = 16
#: The characters of a rule a listing shows.
_RULE_WIDTH = 40


def _zone(name: str) -> ZoneInfo | None:
    try:
        return parse_zone(name)
    except UnknownTimeZone:  # a zone this machine's database does not know
        return None


def local_time(moment: datetime | None, zone_name: str) -> str:
    """``Fri 2026-01-02 09:00 CET`` in the schedule's zone (UTC if this machine does not
    know it), or ``-``."""
    if moment is None:
        return "-"
    zone = _zone(zone_name)
    local = moment.astimezone(zone or UTC)
    return f"{local:%a %Y-%m-%d %H:%M %Z}"


def _cut(text: str, width: int) -> str:
    single = text.replace("\n", " ")
    return single if len(single) <= width else single[: width - 1] + "…"


def _state(schedule: Schedule) -> Text:
    if schedule.paused:
        return Text("paused", style="yellow")
    if schedule.next_slot is None:
        return Text("ended", style="magenta")
    return Text("active", style="green")


def _next_slot(schedule: Schedule) -> str:
    if schedule.next_slot is None:
        return "-"
    local = local_time(schedule.next_slot, schedule.time_zone)
    return f"{local} ({format_time(schedule.next_slot)} UTC)"


def schedule_view(
    schedule: Schedule, slots: Sequence[SlotPreview] = (), fired: Sequence[SlotMarker] = ()
) -> Table:
    """One schedule's fields, one per line; then its next slots and the slots it fired."""
    zone = schedule.time_zone
    fields: list[tuple[str, str | Text | None]] = [
        ("id", schedule.id),
        ("name", schedule.name),
        ("owner", schedule.owner),
        ("job type", schedule.job_type),
        ("request", json.dumps(schedule.request, indent=2, ensure_ascii=False)),
        ("rule", schedule.rule),
        ("time zone", zone),
        ("state", _state(schedule)),
        ("next slot", _next_slot(schedule)),
        ("last slot", local_time(schedule.last_slot, zone) if schedule.last_slot else None),
        ("last job", schedule.last_job_id),
        ("catch up", f"{schedule.catch_up.value} (at most {schedule.catch_up_limit})"),
        ("overlap", schedule.overlap.value),
        ("priority", schedule.priority.value),
        ("max attempts", str(schedule.max_attempts)),
        ("max run time", str(schedule.max_run_time) if schedule.max_run_time else None),
        ("tags", ", ".join(schedule.tags) or None),
        ("created", format_time(schedule.created_at) + " UTC"),
        ("updated", format_time(schedule.updated_at) + " UTC"),
    ]
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=_LABEL_WIDTH, style="bold", no_wrap=True)
    grid.add_column()
    for name, value in fields:
        if value is None:
            continue
        text = value if isinstance(value, Text) else Text(printable(value, keep_newlines=True))
        grid.add_row(name, text)
    if slots:
        grid.add_row("", "")
        grid.add_row("next slots", preview_table(slots))
    if fired:
        grid.add_row("", "")
        grid.add_row("fired slots", slot_table(fired, zone))
    return grid


def schedule_table(schedules: Sequence[Schedule]) -> Table:
    """Schedules in rows, as given (listings are newest first)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in (
        "id",
        "name",
        "owner",
        "type",
        "rule",
        "time zone",
        "next slot",
        "state",
        "last job",
    ):
        table.add_column(column, no_wrap=column in ("id", "next slot", "state", "last job"))
    for schedule in schedules:
        table.add_row(
            Text(schedule.id),
            Text(printable(schedule.name)),
            Text(printable(schedule.owner)),
            Text(printable(schedule.job_type)),
            Text(printable(_cut(schedule.rule, _RULE_WIDTH))),
            Text(printable(schedule.time_zone)),
            local_time(schedule.next_slot, schedule.time_zone),
            _state(schedule),
            Text(schedule.last_job_id or "-"),
        )
    return table


def preview_table(slots: Sequence[SlotPreview]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("local time", no_wrap=True)
    table.add_column("UTC", no_wrap=True)
    for slot in slots:
        table.add_row(f"{slot.local:%a %Y-%m-%d %H:%M %Z (%z)}", format_time(slot.utc))
    return table


def preview_record(slot: SlotPreview) -> dict[str, Any]:
    return {
        "local": slot.local.isoformat(),
        "utc": slot.utc.isoformat(),
        "time_zone": slot.time_zone,
    }


def slot_table(markers: Sequence[SlotMarker], zone_name: str) -> Table:
    """Fired slots, newest first: the slot (local and UTC), its job, when and where."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ("slot", "slot (UTC)", "job", "fired (UTC)", "fired by"):
        table.add_column(column, no_wrap=column != "fired by")
    for marker in markers:
        table.add_row(
            local_time(marker.slot, zone_name),
            format_time(marker.slot),
            Text(marker.job_id),
            format_time(marker.fired_at),
            Text(printable(marker.fired_by)),
        )
    return table
