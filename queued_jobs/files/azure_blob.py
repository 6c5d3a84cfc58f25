"""Files in an Azure Blob Storage container; download links are read-only SAS URLs."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import suppress
from datetime import datetime, timedelta
from io import SEEK_END, SEEK_SET
from typing import IO, Any, cast

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import (
    BlobSasPermissions,
    ContentSettings,
    UserDelegationKey,
    generate_blob_sas,
)
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from .._azure.connection import StorageConnection
from .._azure.errors import translated
from ..clock import SYSTEM_CLOCK, Clock
from ..errors import ConfigurationError, StorageError, StoredFileExists, StoredFileNotFound
from .base import (
    MAX_CHUNK,
    DownloadLink,
    StoredFile,
    attachment,
    validate_container,
    validate_lifetime,
    validate_name,
)

__all__ = ["BlobFileStore"]

#: SAS links start this long before "now", so a client whose clock runs behind can use them.
_CLOCK_SKEW = timedelta(minutes=5)
#: Larger files are uploaded in blocks of this size (one big body would block the loop).
_UPLOAD_CHUNK = 1024 * 1024
#: How long a user delegation key is asked for: seven days from now is the most Azure
#: Storage grants; the margin keeps a clock that runs ahead of the service's inside it.
_DELEGATION_KEY_LIFETIME = timedelta(days=7) - _CLOCK_SKEW


def _key_time(text: str | None) -> datetime:
    """A user delegation key's start or expiry (``2026-11-23T10:00:00Z``), aware."""
    return datetime.fromisoformat(text or "1970-01-01T00:00:00Z")


class _Reader:
    """A binary file as the SDK reads an upload: ``read`` alone (never its ``fileno``,
    whose size ignores where the file stands), counting what it gave."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        self.count += len(chunk)
        return chunk


def _remaining(source: IO[bytes]) -> int | None:
    """How many bytes ``source`` holds from where it stands, if it can tell."""
    try:
        here = source.tell()
        end = source.seek(0, SEEK_END)
        source.seek(here, SEEK_SET)
    except (AttributeError, OSError, ValueError):
        return None
    return end - here


class BlobFileStore:
    """One blob container. Links are read-only SAS URLs for one blob, downloaded as an
    attachment: service SAS signed with the account key when the connection has one, else
    user delegation SAS signed with a key that Azure Storage issues to the identity (this
    needs ``service``, and a role with ``generateUserDelegationKey``, such as Storage Blob
    Data Contributor or Owner)."""

    def __init__(
        self,
        container: ContainerClient,
        *,
        clock: Clock = SYSTEM_CLOCK,
        service: BlobServiceClient | None = None,
        owned_credential: AsyncTokenCredential | None = None,
    ) -> None:
        """``service``: the account's blob service client (for user delegation keys);
        ``owned_credential``: the clients' token credential, if the store is to close it."""
        self._client = container
        self._container = validate_container(container.container_name)
        self._clock = clock
        self._service = service
        self._credential = owned_credential
        self._delegation_key: UserDelegationKey | None = None

    @classmethod
    def from_connection(
        cls,
        connection: StorageConnection | str,
        container: str,
        *,
        clock: Clock = SYSTEM_CLOCK,
        client_options: Mapping[str, Any] | None = None,
    ) -> BlobFileStore:
        """The container ``container`` on a connection string or a
        :class:`StorageConnection`."""
        name = validate_container(container)  # before a credential is made for it
        connection = StorageConnection.of(connection)
        clients = connection.clients(client_options)
        client = clients.container(
            name,
            max_single_put_size=_UPLOAD_CHUNK,
            max_block_size=_UPLOAD_CHUNK,
            # read_chunks yields what each request downloads: at most MAX_CHUNK bytes.
            max_single_get_size=MAX_CHUNK,
            max_chunk_get_size=MAX_CHUNK,
        )
        service = clients.blob_service() if connection.uses_identity else None
        return cls(client, clock=clock, service=service, owned_credential=clients.owned_credential)

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

    async def read_chunks(self, name: str) -> AsyncGenerator[bytes, None]:
        # From from_connection, the first request downloads at most MAX_CHUNK bytes; each
        # later one, the next MAX_CHUNK, on the condition that the blob's ETag is unchanged.
        with translated(f"reading {self._container}/{name}"):
            try:
                stream = await self._client.download_blob(validate_name(name))
            except ResourceNotFoundError:
                raise StoredFileNotFound(name) from None
        chunks = stream.chunks()
        while True:
            with translated(f"reading {self._container}/{name}"):
                try:
                    chunk = await anext(chunks)
                except StopAsyncIteration:
                    return
                except (ResourceModifiedError, ResourceNotFoundError):
                    raise StorageError(
                        f"{self._container}/{name} was replaced or deleted while it was "
                        "read; read it again"
                    ) from None
            # A client made elsewhere may download more at once: hand it on in pieces.
            for start in range(0, len(chunk), MAX_CHUNK):
                yield chunk[start : start + MAX_CHUNK]

    async def write(
        self,
        name: str,
        data: bytes | IO[bytes],
        *,
        content_type: str = "application/octet-stream",
        overwrite: bool = True,
    ) -> StoredFile:
        with translated(f"writing {self._container}/{name}"):
            blob = self._client.get_blob_client(validate_name(name))
            reader = None
            if isinstance(data, bytes | bytearray | memoryview):
                content = bytes(data)
                body: bytes | IO[bytes] = content
                length: int | None = len(content)
            else:
                reader = _Reader(data)
                body, length = cast("IO[bytes]", reader), _remaining(data)
            try:
                written = await blob.upload_blob(
                    body,
                    length=length,
                    overwrite=overwrite,
                    content_settings=ContentSettings(content_type=content_type),
                )
            except ResourceExistsError:
                raise StoredFileExists(name) from None
        size = reader.count if reader is not None else length or 0
        return StoredFile(name, size, content_type, written["last_modified"])

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
        now = self._clock.now()
        signing, expires_at = await self._signing_key(now, now + expires_in)
        token = generate_blob_sas(
            account_name=self._client.account_name or "",
            container_name=self._container,
            blob_name=name,
            permission=BlobSasPermissions(read=True),
            start=now - _CLOCK_SKEW,
            expiry=expires_at,
            content_disposition=attachment(name),
            **signing,
        )
        return DownloadLink(f"{blob.url}?{token}", expires_at)

    async def _signing_key(
        self, now: datetime, expires_at: datetime
    ) -> tuple[dict[str, Any], datetime]:
        """``account_key=`` or ``user_delegation_key=`` for ``generate_blob_sas``, and when
        the link expires: as asked, or with a delegation key, no later than the key (at
        most seven days from now, less a margin for clock skew). A delegation key is asked
        for with the longest validity and reused while it covers the link."""
        account_key = getattr(self._client.credential, "account_key", None)
        if account_key:
            return {"account_key": account_key}, expires_at
        if self._service is None:
            raise ConfigurationError(
                "download links need the storage account key or, with an identity-based "
                "connection, the blob service client to ask for a user delegation key; "
                "open the store with BlobFileStore.from_connection"
            )
        longest = now + _DELEGATION_KEY_LIFETIME
        key = self._delegation_key
        if (
            key is None
            or _key_time(key.signed_expiry) < min(expires_at, longest)
            or _key_time(key.signed_start) > now - _CLOCK_SKEW
        ):
            with translated(f"asking for a user delegation key for {self._container}"):
                key = await self._service.get_user_delegation_key(now - _CLOCK_SKEW, longest)
            self._delegation_key = key
        return {"user_delegation_key": key}, min(expires_at, _key_time(key.signed_expiry))

    async def close(self) -> None:
        await self._client.close()
        if self._service is not None:
            await self._service.close()
        if self._credential is not None:
            await self._credential.close()
