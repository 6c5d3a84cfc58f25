"""The demo's screens: a live table while jobs run, a summary when they are done."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich import box
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from .._cli_views import format_duration, printable, status_text
from ..models import JobStatus

if TYPE_CHECKING:
    from .scenario import Tracked

__all__ = ["live_table", "summary_table"]

_RESULT_WIDTH = 60


def _refused() -> Text:
    return Text("refused", style="bold magenta")


def live_table(tracked: list[Tracked], elapsed: float) -> Table:
    """Every job's status and progress, as of now."""
    table = Table(
        title=f"queued-jobs demo · worker running · {elapsed:4.1f} s",
        box=box.SIMPLE_HEAD,
        title_justify="left",
    )
    for column in ("job", "status", "attempt", "progress", ""):
        table.add_column(column, no_wrap=True)
    for item in tracked:
        job = item.job
        if job is None:
            table.add_row(item.planned.label, _refused(), "-", "", "duplicate unique key")
            continue
        done = job.status is JobStatus.SUCCEEDED
        percent = 100.0 if done else (job.progress.percent if job.progress else 0.0)
        message = (job.progress.message or "") if job.progress and not done else ""
        moving = done or job.status is JobStatus.RUNNING or job.progress is not None
        table.add_row(
            item.planned.label,
            status_text(job),
            str(job.attempts or "-"),
            ProgressBar(total=100, completed=percent, width=24) if moving else "",
            Text(printable(message)),
        )
    return table


def _outcome(item: Tracked) -> Text:
    job = item.job
    if job is None:
        existing = item.refused.existing_job_id if item.refused else "?"
        return Text(f"DuplicateJob: unique key held by job {existing}", style="magenta")
    if job.error is not None:
        error = f"{job.error.type.rsplit('.', 1)[-1]}: {job.error.message}"
        return Text(printable(error, keep_newlines=True), style="red")
    if job.status is JobStatus.CANCELLED:
        last = job.progress.message if job.progress else None
        return Text(printable(f"cancelled while running ({last})") if last else "cancelled")
    result = job.result
    if isinstance(result, dict) and "url" in result:
        size = result.get("size")
        return Text(
            printable(
                f"{result.get('name')} · {result.get('files')} files · {size:,} bytes"
                if isinstance(size, int)
                else str(result.get("name"))
            )
        )
    text = result if isinstance(result, str) else json.dumps(result)
    return Text(printable(text[:_RESULT_WIDTH]))


_MARKS = {"succeeded": "✓", "failed": "✗", "cancelled": "⊘", "timed_out": "⧗"}


def _tries(item: Tracked) -> str:
    """``3 ✗✗✓``: the number of attempts and each one's outcome."""
    if item.job is None or not item.job.attempts:
        return "-"
    marks = "".join(_MARKS.get(a.outcome.value, "·") for a in item.history)
    return f"{item.job.attempts} {marks}"


def summary_table(tracked: list[Tracked]) -> Table:
    """Every job at the end: status, attempts (with each attempt's outcome), duration and
    result or error."""
    caption = "attempts: ✓ succeeded  ✗ failed  ⊘ cancelled · wait: from queued to first start"
    links = [
        str(result["url"])
        for item in tracked
        if item.job and isinstance(result := item.job.result, dict) and "url" in result
    ]
    if links:
        caption += "\n\nDownload links (signed, time-limited):\n" + "\n".join(
            f"  {printable(url)}" for url in links
        )
    table = Table(
        title="Summary",
        caption=caption,
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("job (type)")
    table.add_column("status", no_wrap=True)
    table.add_column("attempts", no_wrap=True)
    table.add_column("wait", justify="right", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("result / error")
    for item in tracked:
        job = item.job
        label = Text(item.planned.label)
        label.append(f"\n{item.planned.job_type}", style="dim")
        table.add_row(
            label,
            status_text(job) if job else _refused(),
            _tries(item),
            format_duration(job.started_at - job.created_at) if job and job.started_at else "-",
            format_duration(job.duration) if job else "-",
            _outcome(item),
        )
    return table
