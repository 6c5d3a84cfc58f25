"""Large requests and results, kept in blobs next to the jobs table."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from contextlib import suppress

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import ContainerClient

from .errors import translated

__all__ = ["BlobPayloads"]


class BlobPayloads:
    """The payload container; blobs are named ``<job id>/<request|result>.json``."""

    def __init__(self, container: ContainerClient) -> None:
        self._container = container

    async def create(self) -> None:
        with translated("creating the payload container"), suppress(ResourceExistsError):
            await self._container.create_container()

    async def upload(self, blobs: Mapping[str, bytes]) -> None:
        with translated("storing a large payload"):
            await asyncio.gather(
                *(
                    self._container.upload_blob(name, data, overwrite=True)
                    for name, data in blobs.items()
                )
            )

    async def _download(self, name: str) -> bytes | None:
        try:
            stream = await self._container.download_blob(name)
            return await stream.readall()
        except ResourceNotFoundError:
            return None

    async def download(self, names: Iterable[str]) -> dict[str, bytes]:
        """The contents of the named blobs that exist (a missing one is left out: the
        record that names it is the one to say so)."""
        wanted = list(names)
        if not wanted:
            return {}
        with translated("reading a large payload"):
            contents = await asyncio.gather(*(self._download(n) for n in wanted))
        return {name: data for name, data in zip(wanted, contents, strict=True) if data is not None}

    async def delete_job(self, job_id: str) -> None:
        """Delete every payload blob of a job (there may be none)."""
        with translated("deleting payloads"):
            names = [
                b.name async for b in self._container.list_blobs(name_starts_with=f"{job_id}/")
            ]
            for name in names:
                with suppress(ResourceNotFoundError):
                    await self._container.delete_blob(name)

    async def close(self) -> None:
        await self._container.close()
