"""Zip a folder of the job owner's stored files and hand back a time-limited download link.

::

    documents = app.files("documents")
    app.job(name="samples.build_zip")(zip_builder(documents))

    await client.queue_job("samples.build_zip", {"prefix": "invoices/2026-11"}, owner="ada")
    # zips ada/invoices/2026-11/...; result: {"url": "https://...?<SAS>", "expires_at": ...,
    #   "name": "ada/zips/<job id>.zip", "files": 8, "size": 2014}

An owner's files live under ``<owner>/`` in the container: the job reads only under its
owner's folder and writes only to ``<owner>/zips/``, under a name that holds the job's id,
so no request can reach another owner's files or replace a file another job made (or
that a link already given out serves). The first attempt never replaces a file; an
attempt that runs again (after a crash) replaces its own output. Existing ``.zip`` files
are never zipped. The zip is built in a temporary file (in memory up to 8 MiB, then on
disk) and uploaded from it, each input read in bounded pieces, within ``max_bytes``.
"""

from __future__ import annotations

import asyncio
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from datetime import datetime, timedelta

from pydantic import BaseModel, Field, field_validator

from ..context import JobContext
from ..errors import InvalidFileName, PermanentError, StoredFileExists
from ..files.base import MAX_LINK_LIFETIME, FileStore, StoredFile, validate_name

__all__ = [
    "MAX_ZIP_BYTES",
    "MAX_ZIP_FILES",
    "ZIPS_FOLDER",
    "ZipRequest",
    "ZipResult",
    "owner_folder",
    "zip_builder",
]

#: The most files one zip may hold (a request may ask for fewer).
MAX_ZIP_FILES = 10_000
#: The most bytes of files one zip may hold (a request may ask for fewer).
MAX_ZIP_BYTES = 1024 * 1024 * 1024
#: The folder of an owner's folder that the zips go to: ``<owner>/zips/``.
ZIPS_FOLDER = "zips"
#: A zip is kept in memory up to this size, then in a temporary file on disk.
_IN_MEMORY = 8 * 1024 * 1024


class ZipRequest(BaseModel):
    """Which of the owner's files to zip: those in the folder ``prefix`` (relative to the
    owner's folder; empty for all of them), and how."""

    #: A folder of the owner's (``invoices/2026-11``, with or without a final ``/``):
    #: whole segments, never ``..``; what is zipped is named relative to it.
    prefix: str = ""
    #: A plain file name ending ``.zip`` (no folder): the zip is then stored as
    #: ``<owner>/zips/<job id>/<name>`` instead of ``<owner>/zips/<job id>.zip``.
    name: str | None = None
    #: Refuse (without retrying) folders with more files than this, or more bytes.
    max_files: int = Field(default=500, ge=1, le=MAX_ZIP_FILES)
    max_bytes: int = Field(default=512 * 1024 * 1024, ge=1, le=MAX_ZIP_BYTES)
    link_valid_for: timedelta = Field(
        default=timedelta(days=3), gt=timedelta(0), le=MAX_LINK_LIFETIME
    )

    @field_validator("prefix")
    @classmethod
    def _a_relative_folder(cls, prefix: str) -> str:
        folder = prefix.removesuffix("/")
        if folder:
            try:
                validate_name(folder)
            except InvalidFileName as exc:
                raise ValueError(f"prefix must name a folder of the owner's files: {exc}") from None
        return folder

    @field_validator("name")
    @classmethod
    def _a_plain_zip_name(cls, name: str | None) -> str | None:
        if name is None:
            return None
        if "/" in name or not name.lower().endswith(".zip"):
            raise ValueError("name must be a plain file name ending '.zip', without a folder")
        try:
            return validate_name(name)
        except InvalidFileName as exc:
            raise ValueError(str(exc)) from None


class ZipResult(BaseModel):
    """The zip that was built and the link to download it."""

    url: str
    expires_at: datetime
    name: str
    files: int
    size: int


def owner_folder(owner: str) -> str:
    """``<owner>/``: where an owner's files live; ``PermanentError`` for an owner that
    cannot name one folder (a ``/``, ``.``/``..``, a segment over 255 bytes...)."""
    try:
        if "/" in owner:
            raise InvalidFileName("an owner's folder is one segment: no '/'")
        validate_name(owner)
    except InvalidFileName as exc:
        raise PermanentError(
            f"the zip builder keeps an owner's files under '<owner>/', and the owner "
            f"{owner[:80]!r} cannot name a folder ({exc}); queue it for an owner without "
            "'/', '\\', control characters, and other than '.' or '..'"
        ) from None
    return f"{owner}/"


def _output_name(folder: str, request: ZipRequest, context: JobContext) -> str:
    zips = f"{folder}{ZIPS_FOLDER}/"
    if request.name is None:
        return validate_name(f"{zips}{context.job.id}.zip")
    return validate_name(f"{zips}{context.job.id}/{request.name}")


def _selected(listed: list[StoredFile], folder: str, request: ZipRequest) -> list[StoredFile]:
    # Only names inside the folder, whatever a store lists; their entries are the rest.
    files = [
        f
        for f in listed
        if f.name.startswith(folder)
        and len(f.name) > len(folder)
        and not f.name.lower().endswith(".zip")
    ]
    if not files:
        raise PermanentError(f"there are no files to zip under {request.prefix!r}")
    total = sum(f.size for f in files)
    if len(files) > request.max_files or total > request.max_bytes:
        raise PermanentError(
            f"{len(files)} files ({total:,} bytes) under {request.prefix!r} is more than "
            f"this job zips ({request.max_files} files, {request.max_bytes:,} bytes)"
        )
    return files


async def _add(
    archive: zipfile.ZipFile,
    files: FileStore,
    stored: StoredFile,
    entry: str,
    budget: int,
    context: JobContext,
) -> int:
    """Copy ``stored`` into the zip as ``entry`` piece by piece; what is left of ``budget``.
    A file that grew past the budget since it was listed fails the job, unread beyond it."""
    async with aclosing(files.read_chunks(stored.name)) as chunks:
        with archive.open(entry, "w") as out:
            async for chunk in chunks:
                context.raise_if_cancelled()
                budget -= len(chunk)
                if budget < 0:
                    raise PermanentError(
                        f"{stored.name!r} grew while it was zipped, past what this job zips "
                        "(max_bytes); nothing was stored"
                    )
                await asyncio.to_thread(out.write, chunk)
    return budget


def zip_builder(
    files: FileStore, *, pace: float = 0.0
) -> Callable[[ZipRequest, JobContext], Awaitable[ZipResult]]:
    """A job function that zips files of ``files`` into ``files`` (register it with
    ``app.job(name=...)``). It reports progress per file and stops between pieces of
    files when cancelled. ``pace``: seconds it waits after each file, so that a demo's
    few small files take long enough to watch (0 for real work)."""

    async def build_zip(request: ZipRequest, context: JobContext) -> ZipResult:
        mine = owner_folder(context.job.owner)
        folder = f"{mine}{request.prefix}/" if request.prefix else mine
        name = _output_name(mine, request, context)
        chosen = _selected(await files.list(folder), folder, request)
        with tempfile.SpooledTemporaryFile(max_size=_IN_MEMORY) as spool:
            budget = request.max_bytes
            with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for number, stored in enumerate(chosen, start=1):
                    context.raise_if_cancelled()
                    entry = validate_name(stored.name[len(folder) :])
                    budget = await _add(archive, files, stored, entry, budget, context)
                    await context.report_progress(
                        100 * number / len(chosen), f"{number}/{len(chosen)} {entry}"
                    )
                    if pace:
                        await asyncio.sleep(pace)
            spool.seek(0)
            try:
                # The first attempt replaces nothing; a later one, its own earlier output.
                written = await files.write(
                    name, spool, content_type="application/zip", overwrite=context.attempt > 1
                )
            except StoredFileExists:
                raise PermanentError(
                    f"{name!r} already exists and this job did not make it: nothing was replaced"
                ) from None
        link = await files.download_link(name, expires_in=request.link_valid_for)
        return ZipResult(
            url=link.url,
            expires_at=link.expires_at,
            name=name,
            files=len(chosen),
            size=written.size,
        )

    return build_zip
