"""What the command line shows: a job, a table of jobs, a live progress bar (with rich).

Values that come from jobs (messages, results, owners, tags, hosts, bodies) come from
whoever queued or ran them: they are shown as plain :class:`~rich.text.Text`, never read as
rich markup, and passed through :func:`printable` first, so that no escape sequence,
control or bidirectional-override character in them reaches the terminal (where it could
clear the screen, fake lines, hide links or reorder text). JSON output escapes every
character that is not printable ASCII (:func:`json_text`).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from rich import box
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .client import JobClient
from .limits.views import waiting_text
from .models import Attempt, JobStatus, QueuedJob
from .waiting import Backoff

__all__ = [
    "follow",
    "format_duration",
    "format_time",
    "job_table",
    "job_view",
    "json_text",
    "printable",
    "status_text",
]

_LABEL_WIDTH = 12
#: The characters of a progress message a listing shows.
_PROGRESS_WIDTH = 40
#: Unicode categories printed as escapes: controls (C0, DEL, C1), format (bidi overrides
#: and isolates, zero-width), surrogates, private use, unassigned, line and paragraph
#: separators.
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_STATUS_STYLES = {
    JobStatus.SCHEDULED: "cyan",
    JobStatus.QUEUED: "cyan",
    JobStatus.RUNNING: "yellow",
    JobStatus.SUCCEEDED: "green",
    JobStatus.FAILED: "red",
    JobStatus.CANCELLED: "magenta",
}


def printable(text: str, *, keep_newlines: bool = False, keep_tabs: bool = False) -> str:
    r"""``text`` with every character that is not safe on a terminal written as an escape
    (``\x1b``, ``\u202e``): what every view passes text from jobs through.
    ``keep_newlines`` keeps ``\n`` as is, for views of several lines; ``keep_tabs`` keeps
    ``\t`` (a job's output)."""
    if text.isprintable():  # the usual case; spaces other than " " go the long way
        return text
    kept = ("\n" if keep_newlines else "") + ("\t" if keep_tabs else "")
    return "".join(
        char if char in kept or unicodedata.category(char) not in _UNSAFE else _escaped(char)
        for char in text
    )


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def json_text(value: object) -> str:
    """``value`` as indented JSON with every character beyond printable ASCII (controls,
    DEL, C1, bidi overrides) escaped: safe to print whatever the data holds."""
    return json.dumps(value, indent=2, ensure_ascii=True)


def format_time(moment: datetime | None) -> str:
    """``2030-01-31 12:00:00`` (UTC), or ``-``."""
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}"


def format_duration(span: timedelta | None) -> str:
    """``35ms``, ``4.2s``, ``3m 07s``, ``2h 05m``, or ``-``."""
    if span is None:
        return "-"
    seconds = span.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def status_text(job: QueuedJob, *, now: datetime | None = None) -> Text:
    """The status, with what is pending: a cancellation asked for, or a lease that ran out
    (the job's worker died; it waits for another worker to take it over)."""
    asked = job.cancel_requested and not job.is_terminal
    label = job.status.value + (" (cancel requested)" if asked else "")
    if job.lease_expired(now) and job.lease_expires_at is not None:
        ago = format_duration((now or datetime.now(UTC)) - job.lease_expires_at)
        label += f" (lease expired {ago} ago, waiting to be taken over)"
        return Text(label, style="bold red")
    return Text(label, style=_STATUS_STYLES[job.status])


def _lease(job: QueuedJob) -> str:
    return f"{job.lease_owner or '-'} until {format_time(job.lease_expires_at)}"


def _progress(job: QueuedJob) -> str:
    if job.progress is None:
        return "-"
    percent = f"{job.progress.percent:.0f}%"
    return f"{percent} {job.progress.message}" if job.progress.message else percent


def wall_time(job: QueuedJob) -> timedelta | None:
    """From the job's creation to its completion: waits in the queue and between retries
    included (``None`` until it completes)."""
    if job.completed_at is None:
        return None
    return job.completed_at - job.created_at


def run_time(attempts: Sequence[Attempt], now: datetime | None = None) -> timedelta | None:
    """The attempts' durations added up (one still running counts up to ``now``): the time
    the job's code ran, without its waits (``None`` before its first attempt)."""
    if not attempts:
        return None
    moment = now or datetime.now(UTC)
    return sum(
        (max((a.ended_at or moment) - a.started_at, timedelta(0)) for a in attempts),
        timedelta(0),
    )


def _run_time(attempts: Sequence[Attempt], now: datetime | None) -> str:
    spent = run_time(attempts, now)
    if spent is None:
        return "-"
    count = len(attempts)
    return f"{format_duration(spent)} in {count} attempt{'' if count == 1 else 's'}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def job_view(
    job: QueuedJob, attempts: Sequence[Attempt] = (), *, now: datetime | None = None
) -> RenderableType:
    """One job's fields, one per line, then its attempts (if any)."""
    fields: list[tuple[str, str | Text | None]] = [
        ("id", job.id),
        ("type", job.job_type),
        ("owner", job.owner),
        ("status", status_text(job, now=now)),
        ("attempts", f"{job.attempts} of {job.max_attempts}"),
        ("progress", _progress(job)),
        ("waiting", _waiting(job)),
        ("priority", job.priority.value),
        ("created", format_time(job.created_at)),
        ("run at", format_time(job.run_at) if job.run_at else None),
        ("started", format_time(job.started_at)),
        ("lease", _lease(job) if job.status is JobStatus.RUNNING else None),
        ("completed", format_time(job.completed_at)),
        ("run time", _run_time(attempts, now)),
        ("wall time", format_duration(wall_time(job))),
        ("unique key", job.unique_key),
        ("tags", ", ".join(job.tags) or None),
        ("result", _json(job.result) if job.status is JobStatus.SUCCEEDED else None),
        ("error", f"{job.error.type}: {job.error.message}" if job.error else None),
    ]
    lines = Text()
    for name, value in fields:
        if value is None:
            continue
        lines.append(f"{name:<{_LABEL_WIDTH}}", style="bold")
        text = value if isinstance(value, Text) else Text(printable(value, keep_newlines=True))
        for number, line in enumerate(text.split()):
            lines.append_text(line if number == 0 else Text(" " * _LABEL_WIDTH) + line)
            lines.append("\n")
    lines.rstrip()
    if not attempts:
        return lines
    return Group(lines, Text(""), _attempt_table(attempts))


def _waiting(job: QueuedJob) -> str | None:
    """The limit that holds a job back, in a line (none for a finished job)."""
    if job.waiting is None or job.status.is_terminal:
        return None
    return waiting_text(job.waiting)


def _attempt_table(attempts: Sequence[Attempt]) -> Table:
    table = Table(
        title="attempts", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False
    )
    for column in ("#", "outcome", "started", "duration", "host", "error"):
        table.add_column(column, no_wrap=column != "error")
    for attempt in attempts:
        ended = attempt.ended_at
        table.add_row(
            str(attempt.number),
            attempt.outcome.value + (" (alone)" if attempt.alone else ""),
            format_time(attempt.started_at),
            format_duration(None if ended is None else ended - attempt.started_at),
            Text(printable(attempt.host)),
            Text(printable(attempt.error.message, keep_newlines=True) if attempt.error else ""),
        )
    return table


def job_table(jobs: Sequence[QueuedJob], *, now: datetime | None = None) -> Table:
    """Jobs in rows, as given (listings are newest first)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    columns = (
        "id",
        "owner",
        "type",
        "status",
        "progress",
        "attempts",
        "created (UTC)",
        "wall time",
    )
    for column in columns:
        table.add_column(column, no_wrap=column in ("id", "status", "created (UTC)"))
    for job in jobs:
        table.add_row(
            Text(printable(job.id)),
            Text(printable(job.owner)),
            Text(printable(job.job_type)),
            status_text(job, now=now),
            Text(printable(_cut(_progress(job), _PROGRESS_WIDTH))),
            f"{job.attempts}/{job.max_attempts}",
            format_time(job.created_at),
            format_duration(wall_time(job)),
        )
    return table


async def follow(
    client: JobClient, job_id: str, console: Console, *, poll: timedelta | Backoff | None = None
) -> QueuedJob:
    """Read the job until it is finished, showing its progress (percent and message) as a
    live bar on ``console``; returns the finished job. Reads are paced as
    :meth:`JobClient.wait` paces them (``poll`` as there)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[message]}", markup=False),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("waiting", total=100, message="")

        def show(job: QueuedJob) -> None:
            progress = job.progress
            bar.update(
                task,
                description=job.status.value,
                completed=100
                if job.status is JobStatus.SUCCEEDED
                else (progress.percent if progress else 0),
                message=printable(progress.message or "") if progress else "",
            )

        return await client.wait(job_id, poll=poll, on_change=show)
