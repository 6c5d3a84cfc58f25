"""Files in an Azure Blob Storage container; download links are read-only SAS URLs."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from contextlib import suppress
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobSasPermissions, ContentSettings, generate_blob_sas
from azure.storage.blob.aio import ContainerClient

from .._azure.connection import expand_connection_string, sdk_options
from .._azure.errors import translated
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError, StoredFileNotFound
from .base import DownloadLink, StoredFile, validate_container, validate_lifetime, validate_name

__all__ = ["BlobFileStore"]

#: SAS links start this long before "now", so a client whose clock runs behind can use them.
_CLOCK_SKEW = timedelta(minutes=5)
#: Larger files are uploaded in blocks of this size (one big body would block the loop).
_UPLOAD_CHUNK = 1024 * 1024


def attachment(name: str) -> str:
    """A Content-Disposition that downloads ``name``'s last segment under its own name
    (RFC 6266: an ASCII fallback, and the exact UTF-8 name for clients that read it)."""
    filename = posixpath.basename(name)
    fallback = filename.encode("ascii", "replace").decode().replace("\\", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


class BlobFileStore:
    """One blob container. Links are service SAS URLs signed with the account key (read
    only, one blob, downloaded as an attachment)."""

    def __init__(self, container: ContainerClient, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self._client = container
        self._container = validate_container(container.container_name)
        self._clock = clock

    @classmethod
    def from_connection_string(
        cls,
        connection_string: str,
        container: str,
        *,
        clock: Clock = SYSTEM_CLOCK,
        client_options: Mapping[str, Any] | None = None,
    ) -> BlobFileStore:
        client = ContainerClient.from_connection_string(
            expand_connection_string(connection_string),
            container_name=validate_container(container),
            **{
                "max_single_put_size": _UPLOAD_CHUNK,
                "max_block_size": _UPLOAD_CHUNK,
                **sdk_options(client_options),
            },
        )
        return cls(client, clock=clock)

    @property
    def container(self) -> str:
        return self._container

    async def create(self) -> None:
        with translated(f"creating the container {self._container}"), suppress(ResourceExistsError):
            await self._client.create_container()

    async def list(self, prefix: str = "") -> list[StoredFile]:
        with translated(f"listing files in {self._container}"):
            return [
                StoredFile(
                    name=blob.name,
                    size=blob.size,
                    content_type=blob.content_settings.content_type,
                    modified=blob.last_modified,
                )
                async for blob in self._client.list_blobs(name_starts_with=prefix or None)
            ]

    async def read(self, name: str) -> bytes:
        with translated(f"reading {self._container}/{name}"):
            try:
                stream = await self._client.download_blob(validate_name(name))
                return await stream.readall()
            except ResourceNotFoundError:
                raise StoredFileNotFound(name) from None

    async def write(
        self, name: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> StoredFile:
        with translated(f"writing {self._container}/{name}"):
            blob = self._client.get_blob_client(validate_name(name))
            written = await blob.upload_blob(
                data,
                overwrite=True,
                content_settings=ContentSettings(content_type=content_type),
            )
        return StoredFile(name, len(data), content_type, written["last_modified"])

    async def delete(self, name: str) -> bool:
        with translated(f"deleting {self._container}/{name}"):
            try:
                await self._client.delete_blob(validate_name(name))
            except ResourceNotFoundError:
                return False
        return True

    async def download_link(self, name: str, *, expires_in: timedelta) -> DownloadLink:
        validate_lifetime(expires_in)
        blob = self._client.get_blob_client(validate_name(name))
        with translated(f"reading {self._container}/{name}"):
            try:
                await blob.get_blob_properties()
            except ResourceNotFoundError:
                raise StoredFileNotFound(name) from None
        account_key = getattr(self._client.credential, "account_key", None)
        if not account_key:
            raise ConfigurationError(
                "download links need the storage account key (a connection string with "
                "AccountKey); this container was opened without one"
            )
        now = self._clock.now()
        expires_at = now + expires_in
        token = generate_blob_sas(
            account_name=self._client.account_name or "",
            container_name=self._container,
            blob_name=name,
            account_key=account_key,
            permission=BlobSasPermissions(read=True),
            start=now - _CLOCK_SKEW,
            expiry=expires_at,
            content_disposition=attachment(name),
        )
        return DownloadLink(f"{blob.url}?{token}", expires_at)

    async def close(self) -> None:
        await self._client.close()
