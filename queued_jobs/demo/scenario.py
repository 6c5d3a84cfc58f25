"""What the demo queues, what each job should end as, and the run itself."""

from __future__ import annotations

import asyncio
import time
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import JsonValue
from rich.console import Console
from rich.live import Live
from rich.text import Text

from .._cli_views import printable
from ..client import JobClient
from ..errors import DuplicateJob, QueuedJobsError
from ..files.local import LocalFileStore
from ..models import Attempt, JobStatus, Priority, QueuedJob
from ..worker import WorkerSettings
from .jobs import demo_app, upload_sample_documents
from .view import live_table, summary_table

__all__ = ["PLAN", "Planned", "Tracked", "run_demo"]

#: The demo gives up (and fails) if the jobs are not all finished by then.
DEADLINE = timedelta(seconds=45)
_TICK = 0.1


@dataclass(frozen=True)
class Planned:
    """One job the demo queues, and how it must end (``None``: refused as a duplicate)."""

    label: str
    job_type: str
    request: JsonValue
    owner: str
    expect: JobStatus | None
    attempts: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    cancel_when_running: bool = False


_MONTH = "billing-2026-11"
PLAN: tuple[Planned, ...] = (
    Planned("Zip November invoices", "samples.build_zip", {"prefix": "invoices/2026-11/"},
            "ada", JobStatus.SUCCEEDED, attempts=1),
    Planned("Zip the 2026 reports", "samples.build_zip", {"prefix": "reports/"},
            "grace", JobStatus.SUCCEEDED, attempts=1),
    Planned("Render the Q3 report", "reports.render", {"title": "Q3 board report"},
            "grace", JobStatus.SUCCEEDED, attempts=1, options={"priority": Priority.HIGH}),
    Planned("Sync exchange rates (flaky)", "rates.sync", {"symbols": ["USD", "GBP", "JPY"]},
            "ops", JobStatus.SUCCEEDED, attempts=3),
    Planned("Import contacts (bad row)", "contacts.import",
            {"csv": "name,email\nAda,ada@example.com\nBob,bob-at-example\n"},
            "ada", JobStatus.FAILED, attempts=1),
    Planned("Bill November", "billing.monthly_invoices", {"month": "2026-11"},
            "ops", JobStatus.SUCCEEDED, attempts=1, options={"unique_key": _MONTH}),
    Planned("Bill November again", "billing.monthly_invoices", {"month": "2026-11"},
            "ops", None, options={"unique_key": _MONTH}),
    Planned("Remind Ada in 3 s", "mail.reminder", {"to": "ada@example.com"},
            "ada", JobStatus.SUCCEEDED, attempts=1, options={"delay": timedelta(seconds=3)}),
    Planned("Rebuild the search index", "search.reindex", {"steps": 40},
            "ops", JobStatus.CANCELLED, attempts=1, options={"priority": Priority.LOW},
            cancel_when_running=True),
)  # fmt: skip


@dataclass
class Tracked:
    """A planned job and what became of it."""

    planned: Planned
    job: QueuedJob | None = None
    refused: DuplicateJob | None = None
    history: list[Attempt] = field(default_factory=list)
    cancel_sent: bool = False

    @property
    def finished(self) -> bool:
        return self.job is None or self.job.is_terminal


async def _queue(client: JobClient, planned: Planned) -> Tracked:
    try:
        job = await client.queue_job(
            planned.job_type, planned.request, owner=planned.owner, **planned.options
        )
    except DuplicateJob as refused:
        return Tracked(planned, refused=refused)
    return Tracked(planned, job)


async def _refresh(client: JobClient, tracked: list[Tracked]) -> None:
    for item in tracked:
        if item.job is None or item.job.is_terminal:
            continue
        item.job = await client.get_job(item.job.id)
        progress = item.job.progress.percent if item.job.progress else 0
        running = item.job.status is JobStatus.RUNNING
        if item.planned.cancel_when_running and running and progress >= 10 and not item.cancel_sent:
            item.cancel_sent = True
            item.job = await client.cancel(item.job.id)


def _link_problem(item: Tracked, documents: LocalFileStore) -> str | None:
    result = item.job.result if item.job else None
    if not isinstance(result, dict):
        return "has no zip result"
    try:
        path = documents.resolve(str(result["url"]))
        with zipfile.ZipFile(path) as archive:
            entries = len(archive.namelist())
    except (QueuedJobsError, zipfile.BadZipFile, KeyError) as exc:
        return f"has a download link that does not work: {exc}"
    if entries != result.get("files"):
        return f"zipped {entries} files, not {result.get('files')}"
    return None


def problems(tracked: list[Tracked], documents: LocalFileStore) -> list[str]:
    """How the jobs' ends differ from the plan (nothing, when the product works)."""
    found: list[str] = []
    holder = {item.planned.options.get("unique_key"): item for item in tracked if item.job}
    for item in tracked:
        planned, job = item.planned, item.job
        if planned.expect is None:
            first = holder.get(planned.options.get("unique_key"))
            if item.refused is None or first is None or first.job is None:
                found.append(f"{planned.label}: was not refused as a duplicate")
            elif item.refused.existing_job_id != first.job.id:
                found.append(f"{planned.label}: refused, but naming the wrong job")
            continue
        if job is None or job.status is not planned.expect:
            status = job.status.value if job else "not queued"
            found.append(f"{planned.label}: {status}, expected {planned.expect.value}")
            continue
        if planned.attempts is not None and job.attempts != planned.attempts:
            found.append(f"{planned.label}: {job.attempts} attempts, expected {planned.attempts}")
        delay = planned.options.get("delay")
        if delay and (job.started_at is None or job.started_at - job.created_at < delay):
            found.append(f"{planned.label}: started before its delay was over")
        if planned.job_type == "samples.build_zip" and (problem := _link_problem(item, documents)):
            found.append(f"{planned.label}: {problem}")
    return found


async def run_demo(directory: Path, console: Console) -> bool:
    """Queue the plan's jobs on a fresh SQLite store in ``directory``, run them with a
    worker in this process while showing them live, print the summary; ``True`` if every
    job ended as planned."""
    app, documents = demo_app(directory)
    assert isinstance(documents, LocalFileStore)
    uploaded = await upload_sample_documents(documents)
    console.print(
        Text(f"Uploaded {uploaded} sample documents to {printable(str(documents.directory))}")
    )
    started = time.monotonic()
    async with app.client() as client:
        await client.create_storage()
        tracked = [await _queue(client, planned) for planned in PLAN]
        worker = app.worker(
            WorkerSettings(
                concurrency=4,
                poll_max=timedelta(milliseconds=100),
                shutdown_grace=timedelta(seconds=2),
                sweep_interval=None,
            ),
            identity="demo-worker",
        )
        running = asyncio.create_task(worker.run())
        try:
            with Live(console=console, refresh_per_second=10) as live:
                while time.monotonic() - started < DEADLINE.total_seconds():
                    await _refresh(client, tracked)
                    live.update(live_table(tracked, time.monotonic() - started))
                    if all(item.finished for item in tracked):
                        break
                    await asyncio.sleep(_TICK)
        finally:
            worker.stop()
            await running
            await worker.close()
        for item in tracked:
            if item.job is not None:
                item.history = await client.list_attempts(item.job.id)
    console.print(summary_table(tracked))
    found = problems(tracked, documents)
    elapsed = time.monotonic() - started
    if found:
        console.print("[red]The demo did not go as planned:[/red]")
        for problem in found:
            console.print(Text.assemble(("  ✗ ", "red"), printable(problem)), highlight=False)
        return False
    console.print(
        Text.assemble(
            ("✓", "green"),
            f" {len(tracked)} jobs ended as planned in {elapsed:.1f} s. "
            f"Jobs, files and zips are kept in {printable(str(directory))}",
        )
    )
    return True
