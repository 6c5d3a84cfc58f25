"""The demo's application: the zip builder over sample documents, and a few jobs that
behave the way real ones do (flaky, broken, slow, cancellable)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel

from ..app import JobApp, SqliteStorage
from ..context import JobContext
from ..errors import PermanentError
from ..execution.settings import ExecutionSettings
from ..files.base import FileStore
from ..files.local import DEFAULT_FILES_URL
from ..retry import RetryPolicy
from ..samples.zip_builder import zip_builder

__all__ = ["DOCUMENTS", "demo_app", "upload_sample_documents"]

#: The container the sample documents are uploaded to and the zips written to.
DOCUMENTS = "documents"

#: Short leases and heartbeats so that a cancellation is seen within half a second.
DEMO_SETTINGS = ExecutionSettings(
    lease=timedelta(seconds=10),
    heartbeat=timedelta(milliseconds=500),
    progress_interval=timedelta(milliseconds=200),
    retry=RetryPolicy(first=timedelta(milliseconds=500), factor=2, jitter=0.1),
)


class Report(BaseModel):
    title: str
    sections: int = 12


async def render_report(request: Report, context: JobContext) -> str:
    """A job that reports its progress section by section."""
    for section in range(1, request.sections + 1):
        await asyncio.sleep(0.2)
        await context.report_progress(
            100 * section / request.sections, f"section {section}/{request.sections}"
        )
    return f"{request.title}: {request.sections} sections rendered"


class Currencies(BaseModel):
    base: str = "EUR"
    symbols: list[str]


class RatesUnavailable(ConnectionError):
    """The (pretend) rates service timed out."""


async def sync_rates(request: Currencies, context: JobContext) -> dict[str, float]:
    """A job whose upstream service fails twice before answering: retried with backoff."""
    await asyncio.sleep(0.1)
    if context.attempt < 3:
        raise RatesUnavailable(f"rates.example timed out (attempt {context.attempt})")
    return {symbol: round(1 + 0.07 * index, 4) for index, symbol in enumerate(request.symbols)}


class ContactsImport(BaseModel):
    csv: str


async def import_contacts(request: ContactsImport, context: JobContext) -> int:
    """A job given bad data: it fails at once with PermanentError (no retry can help)."""
    rows = list(csv.DictReader(io.StringIO(request.csv)))
    for number, row in enumerate(rows, start=2):
        if "@" not in row.get("email", ""):
            raise PermanentError(f"line {number}: {row.get('email')!r} is not an email address")
    return len(rows)


class Billing(BaseModel):
    month: str
    customers: int = 8


async def monthly_invoices(request: Billing, context: JobContext) -> str:
    """A job that must not run twice for the same month: queued with a unique key."""
    for done in range(1, request.customers + 1):
        await asyncio.sleep(0.1)
        await context.report_progress(100 * done / request.customers, f"customer {done}")
    return f"{request.customers} invoices for {request.month}"


class Reminder(BaseModel):
    to: str


async def send_reminder(request: Reminder) -> str:
    """A job queued with a delay: it starts only when the delay is over."""
    return f"reminder sent to {request.to}"


class Reindex(BaseModel):
    steps: int = 40


async def reindex(request: Reindex, context: JobContext) -> str:
    """A long job that checks for cancellation between steps."""
    for step in range(1, request.steps + 1):
        context.raise_if_cancelled()
        await asyncio.sleep(0.25)
        await context.report_progress(100 * step / request.steps, f"batch {step}")
    return "index rebuilt"


def demo_app(
    directory: Path, *, files_url: str = DEFAULT_FILES_URL, zip_pace: float = 0.0
) -> tuple[JobApp, FileStore]:
    """The demo's app on a SQLite file in ``directory``, and its documents container
    (download links point to ``files_url``; a zip waits ``zip_pace`` seconds per file)."""
    storage = SqliteStorage(directory / "demo.db", files_url=files_url)
    app = JobApp(storage, settings=DEMO_SETTINGS)
    documents = app.files(DOCUMENTS)
    app.job(name="samples.build_zip")(zip_builder(documents, pace=zip_pace))
    app.job(name="reports.render")(render_report)
    app.job(name="rates.sync", max_attempts=4)(sync_rates)
    app.job(name="contacts.import")(import_contacts)
    app.job(name="billing.monthly_invoices")(monthly_invoices)
    app.job(name="mail.reminder")(send_reminder)
    app.job(name="search.reindex")(reindex)
    return app, documents


def _sample_documents() -> dict[str, str]:
    """Ada's invoices and Grace's reports, each in their owner's folder (``<owner>/``)."""
    files: dict[str, str] = {}
    for number in range(1, 9):
        invoice = 1000 + number
        files[f"ada/invoices/2026-11/INV-{invoice}.csv"] = "item,quantity,unit_price\n" + "".join(
            f"service {line},{line},{12.5 * line:.2f}\n" for line in range(1, 20)
        )
    for quarter in ("q1", "q2", "q3"):
        files[f"grace/reports/2026-{quarter}/summary.md"] = (
            f"# 2026 {quarter.upper()}\n\n" + "Revenue grew; costs held.\n" * 40
        )
        files[f"grace/reports/2026-{quarter}/figures.csv"] = "metric,value\n" + "".join(
            f"m{index},{index * 3}\n" for index in range(60)
        )
    return files


async def upload_sample_documents(documents: FileStore) -> int:
    """Put the sample documents in the container, as an application's users would have."""
    await documents.create()
    samples = _sample_documents()
    await asyncio.gather(*(documents.write(name, text.encode()) for name, text in samples.items()))
    return len(samples)
