"""Zip a folder of stored files and hand back a time-limited download link.

::

    documents = app.files("documents")
    app.job(name="samples.build_zip")(zip_builder(documents))

    await client.queue_job("samples.build_zip", {"prefix": "invoices/2026-11/"}, owner="ada")
    # result: {"url": "https://...?<SAS>", "expires_at": ..., "name": "zips/<job id>.zip", ...}

The zip is named after the job, so an attempt that runs again (after a crash) overwrites
its own output instead of leaving a second copy. Existing ``.zip`` files are never zipped.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from ..context import JobContext
from ..errors import PermanentError
from ..files.base import MAX_LINK_LIFETIME, FileStore, StoredFile, validate_name

__all__ = ["ZipRequest", "ZipResult", "zip_builder"]


class ZipRequest(BaseModel):
    """Which files to zip: every file whose name starts with ``prefix``."""

    prefix: str = ""
    #: Name of the zip in the container (default ``zips/<job id>.zip``).
    name: str | None = None
    #: Refuse (without retrying) folders with more files than this, or more bytes.
    max_files: int = Field(default=500, ge=1, le=10_000)
    max_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    link_valid_for: timedelta = Field(
        default=timedelta(days=3), gt=timedelta(0), le=MAX_LINK_LIFETIME
    )


class ZipResult(BaseModel):
    """The zip that was built and the link to download it."""

    url: str
    expires_at: datetime
    name: str
    files: int
    size: int


def _selected(listed: list[StoredFile], request: ZipRequest) -> list[StoredFile]:
    files = [f for f in listed if not f.name.lower().endswith(".zip")]
    if not files:
        raise PermanentError(f"there are no files to zip under {request.prefix!r}")
    total = sum(f.size for f in files)
    if len(files) > request.max_files or total > request.max_bytes:
        raise PermanentError(
            f"{len(files)} files ({total:,} bytes) under {request.prefix!r} is more than "
            f"this job zips ({request.max_files} files, {request.max_bytes:,} bytes)"
        )
    return files


def zip_builder(files: FileStore) -> Callable[[ZipRequest, JobContext], Awaitable[ZipResult]]:
    """A job function that zips files of ``files`` into ``files`` (register it with
    ``app.job(name=...)``). It reports progress per file and stops between files when
    cancelled."""

    async def build_zip(request: ZipRequest, context: JobContext) -> ZipResult:
        name = validate_name(request.name or f"zips/{context.job.id}.zip")
        chosen = _selected(await files.list(request.prefix), request)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for number, stored in enumerate(chosen, start=1):
                context.raise_if_cancelled()
                data = await files.read(stored.name)
                entry = stored.name[len(request.prefix) :].lstrip("/") or stored.name
                await asyncio.to_thread(archive.writestr, entry, data)
                await context.report_progress(
                    100 * number / len(chosen), f"{number}/{len(chosen)} {entry}"
                )
        written = await files.write(name, buffer.getvalue(), content_type="application/zip")
        link = await files.download_link(name, expires_in=request.link_valid_for)
        return ZipResult(
            url=link.url,
            expires_at=link.expires_at,
            name=name,
            files=len(chosen),
            size=written.size,
        )

    return build_zip
